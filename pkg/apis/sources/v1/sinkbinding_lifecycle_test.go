package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
)

func TestSinkBindingInitializeConditions(t *testing.T) {
	var sbs SinkBindingStatus
	sbs.InitializeConditions()
	for _, ct := range []apis.ConditionType{SinkBindingConditionReady, SinkBindingConditionSinkProvided} {
		if c := sbs.GetCondition(ct); c == nil || c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %+v, want Unknown", ct, c)
		}
	}
}

// TestSinkBindingReadiness records the sink, then the binding, as a
// reconciler does, and checks Ready.
func TestSinkBindingReadiness(t *testing.T) {
	tests := []struct {
		name    string
		sink    func(*SinkBindingStatus)
		binding func(*SinkBindingStatus)
		want    apis.Condition
	}{{
		name:    "sink resolved, subjects bound",
		sink:    func(sbs *SinkBindingStatus) { sbs.MarkSink(sinkURL) },
		binding: (*SinkBindingStatus).MarkBindingAvailable,
		want:    apis.Condition{Type: SinkBindingConditionReady, Status: corev1.ConditionTrue},
	}, {
		name: "sink resolved, a subject missing",
		sink: func(sbs *SinkBindingStatus) { sbs.MarkSink(sinkURL) },
		binding: func(sbs *SinkBindingStatus) {
			sbs.MarkBindingUnavailable("SubjectMissing", "Deployment %q not found", "app")
		},
		want: apis.Condition{Type: SinkBindingConditionReady, Status: corev1.ConditionFalse,
			Reason: "SubjectMissing", Message: `Deployment "app" not found`},
	}, {
		name:    "subjects bound, sink does not resolve",
		sink:    func(sbs *SinkBindingStatus) { sbs.MarkNoSink("NotFound", "Broker %q not found", "default") },
		binding: (*SinkBindingStatus).MarkBindingAvailable,
		want: apis.Condition{Type: SinkBindingConditionReady, Status: corev1.ConditionFalse,
			Reason: "NotFound", Message: `Broker "default" not found`},
	}, {
		name:    "subjects bound, sink not resolved yet",
		sink:    func(*SinkBindingStatus) {},
		binding: (*SinkBindingStatus).MarkBindingAvailable,
		want:    apis.Condition{Type: SinkBindingConditionReady, Status: corev1.ConditionUnknown},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sbs := &SinkBindingStatus{}
			sbs.InitializeConditions()
			tc.sink(sbs)
			tc.binding(sbs)
			checkCondition(t, sbs.GetCondition(SinkBindingConditionReady), tc.want)
		})
	}
}

// TestSinkBindingRecovers checks that a binding that failed turns Ready
// once its subjects are bound in a later reconcile.
func TestSinkBindingRecovers(t *testing.T) {
	sbs := &SinkBindingStatus{}
	sbs.InitializeConditions()
	sbs.MarkSink(sinkURL)
	sbs.MarkBindingUnavailable("SubjectMissing", "not found")

	sbs.MarkSink(sinkURL)
	sbs.MarkBindingAvailable()
	sb := &SinkBinding{Status: *sbs}
	if !sb.IsReady() {
		t.Errorf("IsReady() = false, want true; Ready = %+v", sb.Status.GetCondition(SinkBindingConditionReady))
	}
}
