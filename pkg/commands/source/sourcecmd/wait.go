package sourcecmd

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/commands/wait"
)

// waitForReady waits until the source is Ready at generation (or a later
// one), within bounds. As with Services, a Ready False must last the
// error window before it counts as a failure: a source passes through
// False while its adapter starts.
func waitForReady[T Object, L runtime.Object](ctx context.Context, c Client[T, L], k *Kind[T, L], name string, generation int64, bounds wait.Bounds) (T, error) {
	timeout := bounds.Timeout
	obj, err := wait.ForReady(ctx, c, k.Kind, name, generation, bounds, func(o T) (int64, *apis.Condition) {
		s := o.GetStatus()
		return s.ObservedGeneration, s.GetCondition(apis.ConditionReady)
	})
	switch {
	case errors.Is(err, wait.ErrStayedFalse):
		return obj, fmt.Errorf("the %s %s failed: %s", k.Kind, name, why(obj.GetStatus()))
	case errors.Is(err, wait.ErrTimedOut):
		var none T
		if any(obj) == any(none) {
			return obj, fmt.Errorf("the %s %s did not appear within %v", k.Kind, name, timeout)
		}
		return obj, fmt.Errorf("the %s %s did not become ready within %v; it says %s\nWait longer with --wait-timeout, or see %s %s",
			k.Kind, name, timeout, why(obj.GetStatus()), k.Command("describe"), name)
	}
	return obj, err
}

// why describes the most telling condition of a source that is not
// ready: a failed one other than Ready (it says more), else Ready, else
// the first Unknown one.
func why(s *duckv1.Status) string {
	for _, status := range []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionUnknown} {
		for _, c := range s.Conditions {
			if c.Type != apis.ConditionReady && c.Status == status {
				return describeCondition(c)
			}
		}
		for _, c := range s.Conditions {
			if c.Type == apis.ConditionReady && c.Status == status {
				return describeCondition(c)
			}
		}
	}
	if s.ObservedGeneration == 0 && len(s.Conditions) == 0 {
		return "no status reported yet: is the controller running?"
	}
	return "no status reported yet"
}

func describeCondition(c apis.Condition) string {
	s := fmt.Sprintf("%s is %s", c.Type, c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

// sinkURI returns the resolved sink of a status, empty before there is
// one.
func sinkURI(s *duckv1.SourceStatus) string {
	if s == nil || s.SinkURI == nil {
		return ""
	}
	return s.SinkURI.String()
}
