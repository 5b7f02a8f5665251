package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/apis/serving"
)

// autoscalerWith returns DefaultAutoscaler changed by mutate.
func autoscalerWith(mutate func(*Autoscaler)) *Autoscaler {
	a := DefaultAutoscaler()
	mutate(a)
	return a
}

func TestNewAutoscalerFromMap(t *testing.T) {
	allKeys := map[string]string{
		"container-concurrency-target-percentage": "80",
		"container-concurrency-target-default":    "50",
		"requests-per-second-target-default":      "150",
		"target-burst-capacity":                   "-1",
		"stable-window":                           "2m",
		"panic-window-percentage":                 "20",
		"panic-threshold-percentage":              "300",
		"max-scale-up-rate":                       "100",
		"max-scale-down-rate":                     "4",
		"enable-scale-to-zero":                    "false",
		"scale-to-zero-grace-period":              "45s",
		"scale-to-zero-pod-retention-period":      "5m",
		"scale-down-delay":                        "15m",
		"pod-autoscaler-class":                    serving.HPAClass,
		"activator-capacity":                      "50",
		"initial-scale":                           "0",
		"allow-zero-initial-scale":                "true",
		"min-scale":                               "1",
		"max-scale":                               "20",
		"max-scale-limit":                         "50",
		"right-sizing":                            RightSizingAdvise,
	}
	checkCoversKeys(t, allKeys, AutoscalerKeys())

	tests := []struct {
		name string
		data map[string]string
		want *Autoscaler
		// wantErrKey, when set, is the key the error must name.
		wantErrKey string
	}{{
		name: "empty map gives the defaults",
		data: map[string]string{},
		want: DefaultAutoscaler(),
	}, {
		name: "the _example block is ignored",
		data: map[string]string{"_example": "stable-window: \"1s\"\n"},
		want: DefaultAutoscaler(),
	}, {
		name: "every key set",
		data: allKeys,
		want: &Autoscaler{
			ContainerConcurrencyTargetFraction: 0.8,
			ContainerConcurrencyTargetDefault:  50,
			RPSTargetDefault:                   150,
			TargetBurstCapacity:                -1,
			StableWindow:                       2 * time.Minute,
			PanicWindowPercentage:              20,
			PanicThresholdPercentage:           300,
			MaxScaleUpRate:                     100,
			MaxScaleDownRate:                   4,
			EnableScaleToZero:                  false,
			ScaleToZeroGracePeriod:             45 * time.Second,
			ScaleToZeroPodRetentionPeriod:      5 * time.Minute,
			ScaleDownDelay:                     15 * time.Minute,
			PodAutoscalerClass:                 serving.HPAClass,
			ActivatorCapacity:                  50,
			InitialScale:                       0,
			AllowZeroInitialScale:              true,
			MinScale:                           1,
			MaxScale:                           20,
			MaxScaleLimit:                      50,
			RightSizing:                        RightSizingAdvise,
		},
	}, {
		name: "target percentage of 100 uses the whole target",
		data: map[string]string{"container-concurrency-target-percentage": "100"},
		want: autoscalerWith(func(a *Autoscaler) { a.ContainerConcurrencyTargetFraction = 1 }),
	}, {
		name: "target burst capacity zero takes the activator out of the path",
		data: map[string]string{"target-burst-capacity": "0"},
		want: autoscalerWith(func(a *Autoscaler) { a.TargetBurstCapacity = 0 }),
	}, {
		name: "max-scale within max-scale-limit",
		data: map[string]string{"max-scale": "10", "max-scale-limit": "10"},
		want: autoscalerWith(func(a *Autoscaler) { a.MaxScale, a.MaxScaleLimit = 10, 10 }),
	}, {
		name:       "number not a number",
		data:       map[string]string{"max-scale-up-rate": "fast"},
		wantErrKey: "max-scale-up-rate",
	}, {
		name:       "NaN, which no range check can refuse",
		data:       map[string]string{"activator-capacity": "NaN"},
		wantErrKey: "activator-capacity",
	}, {
		name:       "infinity",
		data:       map[string]string{"container-concurrency-target-default": "+Inf"},
		wantErrKey: "container-concurrency-target-default",
	}, {
		name:       "duration not a duration",
		data:       map[string]string{"stable-window": "60"},
		wantErrKey: "stable-window",
	}, {
		name:       "boolean not a boolean",
		data:       map[string]string{"enable-scale-to-zero": "yes"},
		wantErrKey: "enable-scale-to-zero",
	}, {
		name:       "integer out of int32",
		data:       map[string]string{"max-scale": "3000000000"},
		wantErrKey: "max-scale",
	}, {
		name:       "target percentage zero",
		data:       map[string]string{"container-concurrency-target-percentage": "0"},
		wantErrKey: "container-concurrency-target-percentage",
	}, {
		name:       "target percentage above 100",
		data:       map[string]string{"container-concurrency-target-percentage": "101"},
		wantErrKey: "container-concurrency-target-percentage",
	}, {
		name:       "concurrency target below the minimum",
		data:       map[string]string{"container-concurrency-target-default": "0.001"},
		wantErrKey: "container-concurrency-target-default",
	}, {
		name:       "rps target below the minimum",
		data:       map[string]string{"requests-per-second-target-default": "0"},
		wantErrKey: "requests-per-second-target-default",
	}, {
		name:       "target burst capacity negative but not -1",
		data:       map[string]string{"target-burst-capacity": "-2"},
		wantErrKey: "target-burst-capacity",
	}, {
		name:       "stable window too short",
		data:       map[string]string{"stable-window": "5s"},
		wantErrKey: "stable-window",
	}, {
		name:       "stable window too long",
		data:       map[string]string{"stable-window": "61m"},
		wantErrKey: "stable-window",
	}, {
		name:       "right-sizing of a mode that does not exist",
		data:       map[string]string{"right-sizing": "apply"},
		wantErrKey: "right-sizing",
	}, {
		name:       "stable window not whole seconds",
		data:       map[string]string{"stable-window": "6500ms"},
		wantErrKey: "stable-window",
	}, {
		name:       "panic window below 1%",
		data:       map[string]string{"panic-window-percentage": "0.5"},
		wantErrKey: "panic-window-percentage",
	}, {
		name:       "panic window above 100%",
		data:       map[string]string{"panic-window-percentage": "101"},
		wantErrKey: "panic-window-percentage",
	}, {
		name:       "panic threshold below 110%",
		data:       map[string]string{"panic-threshold-percentage": "109"},
		wantErrKey: "panic-threshold-percentage",
	}, {
		name:       "panic threshold above 1000%",
		data:       map[string]string{"panic-threshold-percentage": "1001"},
		wantErrKey: "panic-threshold-percentage",
	}, {
		name:       "scale up rate 1",
		data:       map[string]string{"max-scale-up-rate": "1"},
		wantErrKey: "max-scale-up-rate",
	}, {
		name:       "scale down rate 1",
		data:       map[string]string{"max-scale-down-rate": "1"},
		wantErrKey: "max-scale-down-rate",
	}, {
		name:       "grace period too short",
		data:       map[string]string{"scale-to-zero-grace-period": "5s"},
		wantErrKey: "scale-to-zero-grace-period",
	}, {
		name:       "pod retention negative",
		data:       map[string]string{"scale-to-zero-pod-retention-period": "-1s"},
		wantErrKey: "scale-to-zero-pod-retention-period",
	}, {
		name:       "pod retention above an hour",
		data:       map[string]string{"scale-to-zero-pod-retention-period": "61m"},
		wantErrKey: "scale-to-zero-pod-retention-period",
	}, {
		name:       "scale down delay negative",
		data:       map[string]string{"scale-down-delay": "-1s"},
		wantErrKey: "scale-down-delay",
	}, {
		name:       "scale down delay above an hour",
		data:       map[string]string{"scale-down-delay": "61m"},
		wantErrKey: "scale-down-delay",
	}, {
		name:       "scale down delay not whole seconds",
		data:       map[string]string{"scale-down-delay": "1500ms"},
		wantErrKey: "scale-down-delay",
	}, {
		name:       "class empty",
		data:       map[string]string{"pod-autoscaler-class": " "},
		wantErrKey: "pod-autoscaler-class",
	}, {
		name:       "activator capacity below 1",
		data:       map[string]string{"activator-capacity": "0.5"},
		wantErrKey: "activator-capacity",
	}, {
		name:       "initial scale negative",
		data:       map[string]string{"initial-scale": "-1", "allow-zero-initial-scale": "true"},
		wantErrKey: "initial-scale",
	}, {
		name:       "initial scale zero while zero is not allowed",
		data:       map[string]string{"initial-scale": "0"},
		wantErrKey: "initial-scale",
	}, {
		name:       "min scale negative",
		data:       map[string]string{"min-scale": "-1"},
		wantErrKey: "min-scale",
	}, {
		name:       "max scale negative",
		data:       map[string]string{"max-scale": "-1"},
		wantErrKey: "max-scale",
	}, {
		name:       "max scale below min scale",
		data:       map[string]string{"min-scale": "3", "max-scale": "2"},
		wantErrKey: "max-scale",
	}, {
		name:       "max scale limit negative",
		data:       map[string]string{"max-scale-limit": "-1"},
		wantErrKey: "max-scale-limit",
	}, {
		name:       "max scale unbounded under a limit",
		data:       map[string]string{"max-scale-limit": "10"},
		wantErrKey: "max-scale",
	}, {
		name:       "max scale above its limit",
		data:       map[string]string{"max-scale": "11", "max-scale-limit": "10"},
		wantErrKey: "max-scale",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewAutoscalerFromMap(tt.data)
			if tt.wantErrKey != "" {
				checkErrorNames(t, err, AutoscalerConfigName, tt.wantErrKey)
				return
			}
			if err != nil {
				t.Fatalf("NewAutoscalerFromMap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewAutoscalerFromMap (-want, +got):\n%s", diff)
			}
		})
	}
}
