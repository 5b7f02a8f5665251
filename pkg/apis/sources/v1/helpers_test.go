package v1

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// checkErr fails t unless err is nil when want is empty, or err's text
// holds every string of want (field paths, message and the fix offered).
func checkErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Errorf("no error; want one naming %q", want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not name %q:\n%v", w, err)
		}
	}
}

// fieldErr turns a nil *apis.FieldError into a nil error, so that
// checkErr can tell "no error" apart.
func fieldErr(fe *apis.FieldError) error {
	if fe == nil {
		return nil
	}
	return fe
}

// checkCondition compares a condition with want, ignoring when it changed.
func checkCondition(t *testing.T, got *apis.Condition, want apis.Condition) {
	t.Helper()
	if got == nil {
		t.Errorf("condition %s missing", want.Type)
		return
	}
	if diff := cmp.Diff(want, *got, cmpopts.IgnoreFields(apis.Condition{}, "LastTransitionTime")); diff != "" {
		t.Errorf("condition %s (-want, +got):\n%s", want.Type, diff)
	}
}

// sinkURL is where the sources of these tests send.
var sinkURL = apis.HTTP("broker-ingress.flywheel-system.svc.cluster.local")

// brokerSink is a sink by ref, without a namespace.
func brokerSink() duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "default"}}
}

// deployment returns a Deployment whose Available condition is status,
// or that has none when status is empty.
func deployment(status corev1.ConditionStatus, reason, message string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "adapter"}}
	if status != "" {
		d.Status.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue},
			{Type: appsv1.DeploymentAvailable, Status: status, Reason: reason, Message: message},
		}
	}
	return d
}
