package autoscaling

import (
	"strings"
	"testing"

	"flywheel.dev/pkg/apis/config"
)

func TestRightSizingOf(t *testing.T) {
	advising := config.DefaultAutoscaler()
	advising.RightSizing = config.RightSizingAdvise
	key := RightSizingAnnotation.String()
	tests := []struct {
		name        string
		cfg         *config.Autoscaler
		annotations map[string]string
		want        string
	}{
		{"no annotation, the cluster's default", config.DefaultAutoscaler(), nil, config.RightSizingOff},
		{"no annotation, a cluster that advises", advising, nil, config.RightSizingAdvise},
		{"the annotation asks for advice", config.DefaultAutoscaler(), map[string]string{key: "advise"}, config.RightSizingAdvise},
		{"the annotation turns the cluster's advice off", advising, map[string]string{key: "off"}, config.RightSizingOff},
		{"a value that is no mode counts as off", advising, map[string]string{key: "apply"}, config.RightSizingOff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RightSizingOf(tc.cfg, tc.annotations); got != tc.want {
				t.Errorf("RightSizingOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidateRightSizing(t *testing.T) {
	key := RightSizingAnnotation.String()
	for _, v := range config.RightSizingModes {
		if err := ValidateAnnotations(config.DefaultAutoscaler(), map[string]string{key: v}); err != nil {
			t.Errorf("right-sizing %q: %v, want valid", v, err)
		}
	}
	err := ValidateAnnotations(config.DefaultAutoscaler(), map[string]string{key: "Advise"})
	if err == nil {
		t.Fatal("right-sizing \"Advise\" is valid, want an error")
	}
	// The message names the field and the values that would do.
	for _, want := range []string{"annotations[autoscaling.flywheel.dev/right-sizing]", "Advise", "off, advise"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err.Error(), want)
		}
	}
}
