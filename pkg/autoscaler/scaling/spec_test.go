package scaling

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/apis/config"
)

func TestSpecFor(t *testing.T) {
	cfg := config.DefaultAutoscaler()
	base := Spec{
		TargetPerPod:           cfg.ContainerConcurrencyTargetDefault * cfg.ContainerConcurrencyTargetFraction,
		TotalPerPod:            cfg.ContainerConcurrencyTargetDefault,
		TargetBurstCapacity:    cfg.TargetBurstCapacity,
		PanicThreshold:         cfg.PanicThresholdPercentage / 100,
		MaxScaleUpRate:         cfg.MaxScaleUpRate,
		MaxScaleDownRate:       cfg.MaxScaleDownRate,
		StableWindow:           cfg.StableWindow,
		PanicWindow:            6 * time.Second,
		ScaleDownDelay:         cfg.ScaleDownDelay,
		MinScale:               cfg.MinScale,
		MaxScale:               cfg.MaxScale,
		Reachable:              true,
		ActivationScale:        1,
		EnableScaleToZero:      cfg.EnableScaleToZero,
		ScaleToZeroGracePeriod: cfg.ScaleToZeroGracePeriod,
	}
	with := func(change func(*Spec)) Spec {
		s := base
		change(&s)
		return s
	}
	tests := []struct {
		name        string
		annotations map[string]string
		cc          int64
		want        Spec
	}{{
		name: "nothing set: config-autoscaler's defaults",
		want: base,
	}, {
		name: "containerConcurrency is the target when none is given",
		cc:   10,
		want: with(func(s *Spec) { s.TargetPerPod, s.TotalPerPod = 7, 10 }),
	}, {
		name:        "a target above containerConcurrency is held to it",
		annotations: map[string]string{"autoscaling.knative.dev/target": "50"},
		cc:          10,
		want:        with(func(s *Spec) { s.TargetPerPod, s.TotalPerPod = 7, 10 }),
	}, {
		name: "rps with its target, utilization, window, bounds and activation from annotations",
		annotations: map[string]string{
			"autoscaling.knative.dev/metric":                        "rps",
			"autoscaling.knative.dev/target":                        "150",
			"autoscaling.knative.dev/target-utilization-percentage": "50",
			"autoscaling.knative.dev/window":                        "30s",
			"autoscaling.knative.dev/min-scale":                     "1",
			"autoscaling.knative.dev/max-scale":                     "8",
			"autoscaling.knative.dev/activation-scale":              "2",
			"autoscaling.knative.dev/target-burst-capacity":         "-1",
		},
		want: with(func(s *Spec) {
			s.TargetPerPod, s.TotalPerPod = 75, 150
			s.StableWindow, s.PanicWindow = 30*time.Second, 3*time.Second
			s.MinScale, s.MaxScale, s.ActivationScale = 1, 8, 2
			s.TargetBurstCapacity = -1
		}),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SpecFor(tc.annotations, tc.cc, true, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SpecFor (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestSpecForRefusesTheHPAMetrics(t *testing.T) {
	_, err := SpecFor(map[string]string{"autoscaling.knative.dev/metric": "cpu"}, 0, true, config.DefaultAutoscaler())
	if err == nil {
		t.Error("SpecFor accepted the cpu metric, which the built-in class cannot scale on")
	}
}
