package flags

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"flywheel.dev/pkg/apis/serving"
)

// scaleRangeSeparator splits --scale MIN..MAX.
const scaleRangeSeparator = ".."

// applyScale writes the scale flags as the template's autoscaling
// annotations, and checks that the bounds, with those already set, still
// make sense.
func (f *ServiceFlags) applyScale(annotations *map[string]string) error {
	if f.changed(scaleFlag) && (f.changed(scaleMinFlag) || f.changed(scaleMaxFlag)) {
		return fmt.Errorf("--%s sets both bounds: give it, or --%s and --%s, not both", scaleFlag, scaleMinFlag, scaleMaxFlag)
	}
	if f.changed(scaleFlag) {
		if err := applyScaleRange(annotations, f.Scale); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		flag  string
		value int64
		min   int64
		max   int64
		key   serving.AnnotationKey
	}{
		{scaleMinFlag, f.ScaleMin, 0, 0, serving.MinScaleAnnotation},
		{scaleMaxFlag, f.ScaleMax, 0, 0, serving.MaxScaleAnnotation},
		{scaleTargetFlag, f.ScaleTarget, 1, 0, serving.TargetAnnotation},
		{scaleInitFlag, f.ScaleInit, 0, 0, serving.InitialScaleAnnotation},
		{scaleActivationFlag, f.ScaleActivation, 1, 0, serving.ActivationScaleAnnotation},
		{scaleUtilizationFlag, f.ScaleUtilization, 1, 100, serving.TargetUtilizationPercentageAnnotation},
	} {
		if !f.changed(s.flag) {
			continue
		}
		if s.value < s.min || s.max > 0 && s.value > s.max {
			if s.max > 0 {
				return fmt.Errorf("--%s %d: must be from %d to %d", s.flag, s.value, s.min, s.max)
			}
			return fmt.Errorf("--%s %d: must be %d or more", s.flag, s.value, s.min)
		}
		setKey(annotations, s.key.String(), strconv.FormatInt(s.value, 10))
	}
	if f.changed(scaleMetricFlag) {
		if f.ScaleMetric == "" {
			return fmt.Errorf("--%s is empty: give concurrency or rps (or, with the HPA class, cpu or memory)", scaleMetricFlag)
		}
		setKey(annotations, serving.MetricAnnotation.String(), f.ScaleMetric)
	}
	if f.changed(scaleWindowFlag) {
		if _, err := time.ParseDuration(f.ScaleWindow); err != nil {
			return fmt.Errorf("--%s %q: want a duration such as 60s or 2m", scaleWindowFlag, f.ScaleWindow)
		}
		setKey(annotations, serving.WindowAnnotation.String(), f.ScaleWindow)
	}
	low, lowSet := scaleBound(*annotations, serving.MinScaleAnnotation)
	high, highSet := scaleBound(*annotations, serving.MaxScaleAnnotation)
	if lowSet && highSet && high > 0 && low > high {
		// Name the annotations: --annotation may have set them as well
		// as the scale flags.
		return fmt.Errorf("%s %d is above %s %d: the fewest pods cannot exceed the most; raise --%s or lower --%s",
			serving.MinScaleAnnotation, low, serving.MaxScaleAnnotation, high, scaleMaxFlag, scaleMinFlag)
	}
	return nil
}

// applyScaleRange reads --scale N (both bounds N), MIN..MAX, MIN.. or
// ..MAX (the other bound as it was).
func applyScaleRange(annotations *map[string]string, value string) error {
	low, high, isRange := strings.Cut(value, scaleRangeSeparator)
	if !isRange {
		high = low
	}
	bad := func() error {
		return fmt.Errorf("--%s %q: want N, MIN..MAX, MIN.. or ..MAX with whole numbers of pods, 0 or more (e.g. --%s 1..5)",
			scaleFlag, value, scaleFlag)
	}
	if low == "" && high == "" {
		return bad()
	}
	for _, b := range []struct {
		text string
		key  serving.AnnotationKey
	}{{low, serving.MinScaleAnnotation}, {high, serving.MaxScaleAnnotation}} {
		if b.text == "" {
			continue
		}
		n, err := strconv.ParseInt(b.text, 10, 64)
		if err != nil || n < 0 {
			return bad()
		}
		setKey(annotations, b.key.String(), strconv.FormatInt(n, 10))
	}
	return nil
}

func scaleBound(annotations map[string]string, key serving.AnnotationKey) (int64, bool) {
	v, ok := key.Get(annotations)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
