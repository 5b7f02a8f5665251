package autoscaling

import (
	"fmt"
	"slices"
	"strings"

	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// RightSizingAnnotation on a Revision (or its template) chooses whether a
// Vertical Pod Autoscaler advises on the requests of its serving
// container: config.RightSizingAdvise or config.RightSizingOff. Without
// it, config-autoscaler's right-sizing key decides. It is Flywheel's own,
// so it lives in Flywheel's group, not in autoscaling.knative.dev.
const RightSizingAnnotation serving.AnnotationKey = GroupName + "/right-sizing"

// RightSizingOf returns the right-sizing mode of an object with
// annotations: the annotation's, else the cluster's. A value that is not
// a mode counts as off, so that a reconciler reading an object stored
// before validation knew the key does not act on a typo.
func RightSizingOf(cfg *config.Autoscaler, annotations map[string]string) string {
	v, ok := RightSizingAnnotation.Get(annotations)
	if !ok {
		return cfg.RightSizing
	}
	if slices.Contains(config.RightSizingModes, v) {
		return v
	}
	return config.RightSizingOff
}

// ValidateRightSizing refuses a right-sizing annotation that names no
// mode. The path reads annotations[<key>], as ValidateAnnotations' do.
func ValidateRightSizing(annotations map[string]string) *apis.FieldError {
	v, ok := RightSizingAnnotation.Get(annotations)
	if !ok || slices.Contains(config.RightSizingModes, v) {
		return nil
	}
	return apis.ErrInvalidValue(v, annotationPath(RightSizingAnnotation.String()),
		fmt.Sprintf("right-sizing must be one of: %s (%q asks a Vertical Pod Autoscaler for advice on the requests)",
			strings.Join(config.RightSizingModes, ", "), config.RightSizingAdvise))
}
