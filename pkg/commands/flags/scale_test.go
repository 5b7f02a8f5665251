package flags

import (
	"testing"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

func TestScaleFlags(t *testing.T) {
	const (
		minScale = "autoscaling.knative.dev/min-scale"
		maxScale = "autoscaling.knative.dev/max-scale"
	)
	for _, tc := range []struct {
		name string
		in   *servingv1.Service
		args []string
		want *servingv1.Service
	}{
		{"exactly N", service(), []string{"--scale", "3"}, service(withTemplateAnnotations(minScale, "3", maxScale, "3"))},
		{"a range", service(), []string{"--scale", "1..5"}, service(withTemplateAnnotations(minScale, "1", maxScale, "5"))},
		{
			"only the lower bound",
			service(withTemplateAnnotations(minScale, "1", maxScale, "5")), []string{"--scale", "2.."},
			service(withTemplateAnnotations(minScale, "2", maxScale, "5")),
		},
		{
			"only the upper bound",
			service(withTemplateAnnotations(minScale, "1", maxScale, "5")), []string{"--scale", "..9"},
			service(withTemplateAnnotations(minScale, "1", maxScale, "9")),
		},
		{
			"the other autoscaling settings", service(),
			[]string{"--scale-init", "0", "--scale-activation", "2", "--scale-metric", "rps", "--scale-utilization", "80", "--scale-window", "2m"},
			service(withTemplateAnnotations(
				"autoscaling.knative.dev/initial-scale", "0",
				"autoscaling.knative.dev/activation-scale", "2",
				"autoscaling.knative.dev/metric", "rps",
				"autoscaling.knative.dev/target-utilization-percentage", "80",
				"autoscaling.knative.dev/window", "2m")),
		},
	} {
		t.Run(tc.name, func(t *testing.T) { appliesAs(t, tc.in, tc.args, tc.want) })
	}
}

func TestScaleFlagsRefuseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"--scale and a bound", []string{"--scale", "1..3", "--scale-max", "5"}, []string{"--scale sets both bounds", "--scale-min and --scale-max"}},
		{"no bound", []string{"--scale", ".."}, []string{"--scale", `".."`, "MIN..MAX"}},
		{"not a number", []string{"--scale", "a..b"}, []string{"--scale", "N, MIN..MAX, MIN.. or ..MAX"}},
		{"a negative bound", []string{"--scale", "-1"}, []string{"--scale", `"-1"`}},
		{"a range the wrong way round", []string{"--scale", "5..2"}, []string{"min-scale 5 is above autoscaling.knative.dev/max-scale 2"}},
		{"utilization above 100", []string{"--scale-utilization", "120"}, []string{"--scale-utilization 120", "from 1 to 100"}},
		{"a zero activation scale", []string{"--scale-activation", "0"}, []string{"--scale-activation 0", "1 or more"}},
		{"a window that is not a duration", []string{"--scale-window", "60"}, []string{"--scale-window", `"60"`, "60s or 2m"}},
		{"an empty metric", []string{"--scale-metric", ""}, []string{"--scale-metric is empty", "concurrency or rps"}},
	} {
		t.Run(tc.name, func(t *testing.T) { refuses(t, service(), tc.args, tc.want) })
	}
}
