package autoscaling

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// ann builds an annotation map from short autoscaling names and values,
// so rows read like the YAML a user writes.
func ann(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[serving.AutoscalingGroupName+"/"+kv[i]] = kv[i+1]
	}
	return m
}

func TestParseAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    Annotations
		wantErr string
	}{{
		name: "nil map",
		in:   nil,
		want: Annotations{},
	}, {
		name: "every annotation",
		in: ann(
			"class", serving.HPAClass, "metric", "cpu", "target", "80.5",
			"target-utilization-percentage", "70", "min-scale", "1", "max-scale", "10",
			"initial-scale", "2", "activation-scale", "3", "scale-down-delay", "1m",
			"window", "90s", "panic-window-percentage", "10", "panic-threshold-percentage", "200",
			"target-burst-capacity", "-1", "scale-to-zero-pod-retention-period", "30s"),
		want: Annotations{
			Class:                         serving.HPAClass,
			Metric:                        serving.MetricCPU,
			Target:                        ptr.To(80.5),
			TargetUtilizationPercentage:   ptr.To(70.0),
			MinScale:                      ptr.To[int32](1),
			MaxScale:                      ptr.To[int32](10),
			InitialScale:                  ptr.To[int32](2),
			ActivationScale:               ptr.To[int32](3),
			ScaleDownDelay:                ptr.To(time.Minute),
			Window:                        ptr.To(90 * time.Second),
			PanicWindowPercentage:         ptr.To(10.0),
			PanicThresholdPercentage:      ptr.To(200.0),
			TargetBurstCapacity:           ptr.To(-1.0),
			ScaleToZeroPodRetentionPeriod: ptr.To(30 * time.Second),
		},
	}, {
		name: "out-of-range values parse: ranges are validation's business",
		in:   ann("min-scale", "-5", "window", "2h"),
		want: Annotations{MinScale: ptr.To[int32](-5), Window: ptr.To(2 * time.Hour)},
	}, {
		name: "unknown keys are ignored",
		in:   ann("minScale", "3"),
		want: Annotations{},
	}, {
		name: "every syntax error is reported, good values still parse",
		in:   ann("min-scale", "one", "window", "60", "target", "NaN", "max-scale", "4"),
		want: Annotations{MaxScale: ptr.To[int32](4)},
		wantErr: `invalid value: 60: annotations[autoscaling.knative.dev/window]
window must be a duration, e.g. "60s" or "1m"
invalid value: NaN: annotations[autoscaling.knative.dev/target]
target must be a number, e.g. "70"
invalid value: one: annotations[autoscaling.knative.dev/min-scale]
min-scale must be a whole number, e.g. "3"`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAnnotations(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseAnnotations (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErr, errString(err)); diff != "" {
				t.Errorf("ParseAnnotations error (-want, +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidateAnnotations(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		cfg  func(*config.Autoscaler)
		// want is the error as a user sees it on a PodAutoscaler or
		// Revision: under metadata.
		want string
	}{{
		name: "no annotations",
	}, {
		name: "other namespaces are not ours to judge",
		in:   map[string]string{"serving.knative.dev/creator": "me", "example.com/x": "y"},
	}, {
		name: "a full valid KPA set",
		in: ann(
			"class", serving.KPAClass, "metric", "rps", "target", "150",
			"target-utilization-percentage", "70", "min-scale", "1", "max-scale", "10",
			"initial-scale", "2", "activation-scale", "3", "scale-down-delay", "30s",
			"window", "1m", "panic-window-percentage", "10", "panic-threshold-percentage", "200",
			"target-burst-capacity", "-1", "scale-to-zero-pod-retention-period", "1m"),
	}, {
		name: "a valid HPA set on cpu",
		in:   ann("class", serving.HPAClass, "metric", "cpu", "target", "80"),
	}, {
		name: "the HPA class takes a window: its scale-down stabilization and when to go to zero",
		in:   ann("class", serving.HPAClass, "metric", "concurrency", "target", "10", "window", "30s"),
	}, {
		name: "a memory target is MiB, above 100",
		in:   ann("class", serving.HPAClass, "metric", "memory", "target", "512"),
	}, {
		name: "max-scale 0 is unbounded, above any min-scale",
		in:   ann("min-scale", "5", "max-scale", "0", "activation-scale", "7"),
	}, {
		name: "initial-scale 0 with allow-zero-initial-scale",
		in:   ann("initial-scale", "0"),
		cfg:  func(c *config.Autoscaler) { c.AllowZeroInitialScale = true },
	}, {
		name: "unknown key lists the known ones",
		in:   ann("min-replicas", "1"),
		want: `invalid key name "autoscaling.knative.dev/min-replicas": metadata.annotations[autoscaling.knative.dev/min-replicas]
known autoscaling.knative.dev/ annotations: class, metric, target, target-utilization-percentage, min-scale, max-scale, initial-scale, activation-scale, scale-down-delay, window, panic-window-percentage, panic-threshold-percentage, target-burst-capacity, scale-to-zero-pod-retention-period`,
	}, {
		name: "old camelCase key names its new spelling",
		in:   ann("minScale", "1"),
		want: `invalid key name "autoscaling.knative.dev/minScale": metadata.annotations[autoscaling.knative.dev/minScale]
did you mean autoscaling.knative.dev/min-scale? known autoscaling.knative.dev/ annotations: class, metric, target, target-utilization-percentage, min-scale, max-scale, initial-scale, activation-scale, scale-down-delay, window, panic-window-percentage, panic-threshold-percentage, target-burst-capacity, scale-to-zero-pod-retention-period`,
	}, {
		name: "class must be kpa or hpa",
		in:   ann("class", "keda.autoscaling.knative.dev"),
		want: `invalid value: keda.autoscaling.knative.dev: metadata.annotations[autoscaling.knative.dev/class]
class must be kpa.autoscaling.knative.dev or hpa.autoscaling.knative.dev`,
	}, {
		name: "KPA metric is concurrency or rps",
		in:   ann("class", serving.KPAClass, "metric", "cpu"),
		want: `invalid value: cpu: metadata.annotations[autoscaling.knative.dev/metric]
metric for class kpa.autoscaling.knative.dev must be one of: concurrency, rps`,
	}, {
		name: "KPA by cluster default: metric is concurrency or rps",
		in:   ann("metric", "memory"),
		want: `invalid value: memory: metadata.annotations[autoscaling.knative.dev/metric]
metric for class kpa.autoscaling.knative.dev must be one of: concurrency, rps`,
	}, {
		name: "HPA metric is concurrency, rps, cpu or memory",
		in:   ann("class", serving.HPAClass, "metric", "latency"),
		want: `invalid value: latency: metadata.annotations[autoscaling.knative.dev/metric]
metric for class hpa.autoscaling.knative.dev must be one of: concurrency, rps, cpu, memory`,
	}, {
		name: "with a bad class, metric is held to every class's metrics",
		in:   ann("class", "nope", "metric", "cpu", "window", "60s"),
		want: `invalid value: nope: metadata.annotations[autoscaling.knative.dev/class]
class must be kpa.autoscaling.knative.dev or hpa.autoscaling.knative.dev`,
	}, {
		name: "target at least 0.01",
		in:   ann("target", "0.001"),
		want: `invalid value: 0.001: metadata.annotations[autoscaling.knative.dev/target]
target must be at least 0.01`,
	}, {
		name: "cpu target is a percentage",
		in:   ann("class", serving.HPAClass, "target", "150"),
		want: `expected 1 <= 150 <= 100: metadata.annotations[autoscaling.knative.dev/target]
target for the cpu metric is a percentage of the CPU request, from 1 to 100`,
	}, {
		name: "memory target at least 1 MiB",
		in:   ann("class", serving.HPAClass, "metric", "memory", "target", "0.5"),
		want: `invalid value: 0.5: metadata.annotations[autoscaling.knative.dev/target]
target for the memory metric is MiB per pod and must be at least 1`,
	}, {
		name: "target must be a finite number",
		in:   ann("target", "Inf"),
		want: `invalid value: Inf: metadata.annotations[autoscaling.knative.dev/target]
target must be a number, e.g. "70"`,
	}, {
		name: "target-utilization-percentage 1 to 100",
		in:   ann("target-utilization-percentage", "101"),
		want: `expected 1 <= 101 <= 100: metadata.annotations[autoscaling.knative.dev/target-utilization-percentage]
target-utilization-percentage is the share of the target aimed at, from 1 to 100`,
	}, {
		name: "min-scale at least 0",
		in:   ann("min-scale", "-1"),
		want: `invalid value: -1: metadata.annotations[autoscaling.knative.dev/min-scale]
min-scale must be 0 or more`,
	}, {
		name: "max-scale at least 0",
		in:   ann("max-scale", "-1"),
		want: `invalid value: -1: metadata.annotations[autoscaling.knative.dev/max-scale]
max-scale must be 0 (no upper bound) or more`,
	}, {
		name: "min-scale above a bounded max-scale",
		in:   ann("min-scale", "5", "max-scale", "3"),
		want: `min-scale 5 is greater than max-scale 3: metadata.annotations[autoscaling.knative.dev/max-scale], metadata.annotations[autoscaling.knative.dev/min-scale]
lower min-scale or raise max-scale (max-scale 0 means no upper bound)`,
	}, {
		name: "max-scale above max-scale-limit",
		in:   ann("max-scale", "11"),
		cfg:  func(c *config.Autoscaler) { c.MaxScaleLimit = 10 },
		want: `expected 1 <= 11 <= 10: metadata.annotations[autoscaling.knative.dev/max-scale]
max-scale-limit in config-autoscaler caps max-scale at 10`,
	}, {
		name: "max-scale 0 (unbounded) under max-scale-limit",
		in:   ann("max-scale", "0"),
		cfg:  func(c *config.Autoscaler) { c.MaxScaleLimit = 10 },
		want: `invalid value: 0: metadata.annotations[autoscaling.knative.dev/max-scale]
max-scale 0 means no upper bound, which max-scale-limit 10 in config-autoscaler forbids; set max-scale from 1 to 10`,
	}, {
		name: "min-scale above max-scale-limit",
		in:   ann("min-scale", "11"),
		cfg:  func(c *config.Autoscaler) { c.MaxScaleLimit = 10 },
		want: `expected 0 <= 11 <= 10: metadata.annotations[autoscaling.knative.dev/min-scale]
max-scale-limit in config-autoscaler caps min-scale at 10`,
	}, {
		name: "min-scale must be a whole number",
		in:   ann("min-scale", "1.5"),
		want: `invalid value: 1.5: metadata.annotations[autoscaling.knative.dev/min-scale]
min-scale must be a whole number, e.g. "3"`,
	}, {
		name: "initial-scale at least 0",
		in:   ann("initial-scale", "-1"),
		want: `invalid value: -1: metadata.annotations[autoscaling.knative.dev/initial-scale]
initial-scale must be 0 or more`,
	}, {
		name: "initial-scale 0 without allow-zero-initial-scale",
		in:   ann("initial-scale", "0"),
		want: `invalid value: 0: metadata.annotations[autoscaling.knative.dev/initial-scale]
initial-scale 0 needs allow-zero-initial-scale: true in config-autoscaler`,
	}, {
		name: "activation-scale at least 1",
		in:   ann("activation-scale", "0"),
		want: `invalid value: 0: metadata.annotations[autoscaling.knative.dev/activation-scale]
activation-scale must be at least 1`,
	}, {
		name: "activation-scale above a bounded max-scale",
		in:   ann("activation-scale", "5", "max-scale", "4"),
		want: `activation-scale 5 is greater than max-scale 4: metadata.annotations[autoscaling.knative.dev/activation-scale], metadata.annotations[autoscaling.knative.dev/max-scale]
lower activation-scale or raise max-scale`,
	}, {
		name: "scale-down-delay at most 1h",
		in:   ann("scale-down-delay", "61m"),
		want: `expected 0s <= 61m <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/scale-down-delay]
scale-down-delay must be from 0s to 1h`,
	}, {
		name: "scale-down-delay not negative",
		in:   ann("scale-down-delay", "-1s"),
		want: `expected 0s <= -1s <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/scale-down-delay]
scale-down-delay must be from 0s to 1h`,
	}, {
		name: "scale-down-delay whole seconds",
		in:   ann("scale-down-delay", "1500ms"),
		want: `invalid value: 1500ms: metadata.annotations[autoscaling.knative.dev/scale-down-delay]
scale-down-delay must be whole seconds, e.g. "90s"`,
	}, {
		name: "scale-down-delay is a Go duration",
		in:   ann("scale-down-delay", "30"),
		want: `invalid value: 30: metadata.annotations[autoscaling.knative.dev/scale-down-delay]
scale-down-delay must be a duration, e.g. "60s" or "1m"`,
	}, {
		name: "window at least 6s",
		in:   ann("window", "5s"),
		want: `expected 6s <= 5s <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/window]
window must be from 6s to 1h0m0s`,
	}, {
		name: "window at most 1h",
		in:   ann("window", "2h"),
		want: `expected 6s <= 2h <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/window]
window must be from 6s to 1h0m0s`,
	}, {
		name: "window whole seconds",
		in:   ann("window", "6500ms"),
		want: `invalid value: 6500ms: metadata.annotations[autoscaling.knative.dev/window]
window must be whole seconds, e.g. "90s"`,
	}, {
		name: "panic-window-percentage 1 to 100",
		in:   ann("panic-window-percentage", "0.5"),
		want: `expected 1 <= 0.5 <= 100: metadata.annotations[autoscaling.knative.dev/panic-window-percentage]
panic-window-percentage is a percentage of the stable window, from 1 to 100`,
	}, {
		name: "panic-threshold-percentage 110 to 1000",
		in:   ann("panic-threshold-percentage", "100"),
		want: `expected 110 <= 100 <= 1000: metadata.annotations[autoscaling.knative.dev/panic-threshold-percentage]
panic-threshold-percentage is a percentage of the target capacity, from 110 to 1000`,
	}, {
		name: "target-burst-capacity -1 or at least 0",
		in:   ann("target-burst-capacity", "-2"),
		want: `invalid value: -2: metadata.annotations[autoscaling.knative.dev/target-burst-capacity]
target-burst-capacity must be -1 (activator always in the path) or 0 or more`,
	}, {
		name: "scale-to-zero-pod-retention-period 0 to 1h",
		in:   ann("scale-to-zero-pod-retention-period", "2h"),
		want: `expected 0s <= 2h <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/scale-to-zero-pod-retention-period]
scale-to-zero-pod-retention-period must be from 0s to 1h`,
	}, {
		name: "every problem is reported at once",
		in:   ann("min-scale", "-1", "window", "1s", "typo", "x"),
		want: `expected 6s <= 1s <= 1h0m0s: metadata.annotations[autoscaling.knative.dev/window]
window must be from 6s to 1h0m0s
invalid key name "autoscaling.knative.dev/typo": metadata.annotations[autoscaling.knative.dev/typo]
known autoscaling.knative.dev/ annotations: class, metric, target, target-utilization-percentage, min-scale, max-scale, initial-scale, activation-scale, scale-down-delay, window, panic-window-percentage, panic-threshold-percentage, target-burst-capacity, scale-to-zero-pod-retention-period
invalid value: -1: metadata.annotations[autoscaling.knative.dev/min-scale]
min-scale must be 0 or more`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.DefaultAutoscaler()
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			got := errString(ValidateAnnotations(cfg, tc.in).ViaField("metadata"))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ValidateAnnotations (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestValidateAnnotationsPath pins the path users read: the key whole in
// brackets, even after more fields are prefixed, as a Service's template
// does.
func TestValidateAnnotationsPath(t *testing.T) {
	err := ValidateAnnotations(config.DefaultAutoscaler(), ann("min-scale", "-1"))
	for _, tc := range []struct {
		got  string
		want string
	}{
		{err.ViaField("metadata").Error(), "metadata.annotations[autoscaling.knative.dev/min-scale]"},
		{err.ViaField("metadata").ViaField("template").ViaField("spec").Error(), "spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]"},
	} {
		if !strings.Contains(tc.got, tc.want+"\n") {
			t.Errorf("error %q does not name path %q", tc.got, tc.want)
		}
	}
}

func TestAnnotationsOr(t *testing.T) {
	// resolved is every setting as a reconciler sees it.
	type resolved struct {
		Class, Metric            string
		Window, ScaleDownDelay   time.Duration
		Retention                time.Duration
		PanicWindow, PanicThresh float64
		TBC                      float64
		Initial, Min, Max        int32
	}
	resolve := func(a Annotations, cfg *config.Autoscaler) resolved {
		r := resolved{
			Class:          a.ClassOr(cfg),
			Metric:         a.MetricOr(cfg),
			Window:         a.WindowOr(cfg),
			ScaleDownDelay: a.ScaleDownDelayOr(cfg),
			Retention:      a.ScaleToZeroPodRetentionPeriodOr(cfg),
			PanicWindow:    a.PanicWindowPercentageOr(cfg),
			PanicThresh:    a.PanicThresholdPercentageOr(cfg),
			TBC:            a.TargetBurstCapacityOr(cfg),
			Initial:        a.InitialScaleOr(cfg),
		}
		r.Min, r.Max = a.ScaleBoundsOr(cfg)
		return r
	}
	cluster := config.DefaultAutoscaler()
	cluster.ScaleDownDelay = 5 * time.Second
	cluster.ScaleToZeroPodRetentionPeriod = 10 * time.Second
	cluster.MinScale, cluster.MaxScale = 1, 20

	tests := []struct {
		name string
		in   map[string]string
		cfg  func(*config.Autoscaler)
		want resolved
	}{{
		name: "unset: the cluster's values, KPA on concurrency",
		want: resolved{
			Class: serving.KPAClass, Metric: serving.MetricConcurrency,
			Window: 60 * time.Second, ScaleDownDelay: 5 * time.Second, Retention: 10 * time.Second,
			PanicWindow: 10, PanicThresh: 200, TBC: 211, Initial: 1, Min: 1, Max: 20,
		},
	}, {
		name: "HPA class defaults the metric to cpu",
		in:   ann("class", serving.HPAClass),
		want: resolved{
			Class: serving.HPAClass, Metric: serving.MetricCPU,
			Window: 60 * time.Second, ScaleDownDelay: 5 * time.Second, Retention: 10 * time.Second,
			PanicWindow: 10, PanicThresh: 200, TBC: 211, Initial: 1, Min: 1, Max: 20,
		},
	}, {
		name: "HPA as the cluster default also defaults the metric to cpu",
		cfg:  func(c *config.Autoscaler) { c.PodAutoscalerClass = serving.HPAClass },
		want: resolved{
			Class: serving.HPAClass, Metric: serving.MetricCPU,
			Window: 60 * time.Second, ScaleDownDelay: 5 * time.Second, Retention: 10 * time.Second,
			PanicWindow: 10, PanicThresh: 200, TBC: 211, Initial: 1, Min: 1, Max: 20,
		},
	}, {
		name: "set: the annotations win, zero values included",
		in: ann("class", serving.KPAClass, "metric", "rps", "window", "2m",
			"scale-down-delay", "0s", "scale-to-zero-pod-retention-period", "0s",
			"panic-window-percentage", "20", "panic-threshold-percentage", "300",
			"target-burst-capacity", "0", "initial-scale", "0", "min-scale", "0", "max-scale", "0"),
		want: resolved{
			Class: serving.KPAClass, Metric: serving.MetricRPS,
			Window: 2 * time.Minute, PanicWindow: 20, PanicThresh: 300,
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := *cluster
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			a, err := ParseAnnotations(tc.in)
			if err != nil {
				t.Fatalf("ParseAnnotations: %v", err)
			}
			if diff := cmp.Diff(tc.want, resolve(a, &cfg)); diff != "" {
				t.Errorf("resolved settings (-want, +got):\n%s", diff)
			}
		})
	}
}
