package v1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// boundSinkBinding returns the status of a ready SinkBinding whose sink is
// sinkURL.
func boundSinkBinding() *SinkBindingStatus {
	sbs := &SinkBindingStatus{}
	sbs.InitializeConditions()
	sbs.MarkSink(sinkURL)
	sbs.MarkBindingAvailable()
	sbs.CloudEventAttributes = []duckv1.CloudEventAttributes{{Type: "dev.example.beat", Source: "beats"}}
	sbs.ObservedGeneration = 7
	return sbs
}

func readyContainerSource() *ContainerSourceStatus {
	css := &ContainerSourceStatus{}
	css.InitializeConditions()
	css.PropagateSinkBindingStatus(boundSinkBinding())
	css.PropagateReceiveAdapterStatus(deployment(corev1.ConditionTrue, "MinimumReplicasAvailable", ""))
	return css
}

func TestContainerSourceInitializeConditions(t *testing.T) {
	var css ContainerSourceStatus
	css.InitializeConditions()
	for _, ct := range []apis.ConditionType{
		ContainerSourceConditionReady, ContainerSourceConditionSinkBindingReady, ContainerSourceConditionReceiveAdapterReady,
	} {
		if c := css.GetCondition(ct); c == nil || c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %+v, want Unknown", ct, c)
		}
	}
}

func TestContainerSourcePropagateSinkBindingStatus(t *testing.T) {
	css := readyContainerSource()
	css.ObservedGeneration = 2
	css.PropagateSinkBindingStatus(boundSinkBinding())
	if css.SinkURI.String() != sinkURL.String() {
		t.Errorf("SinkURI = %v, want the binding's %v", css.SinkURI, sinkURL)
	}
	if diff := cmp.Diff(boundSinkBinding().CloudEventAttributes, css.CloudEventAttributes); diff != "" {
		t.Errorf("CloudEventAttributes (-want, +got):\n%s", diff)
	}
	if css.ObservedGeneration != 2 {
		t.Errorf("ObservedGeneration = %d, want the source's own 2, not the binding's", css.ObservedGeneration)
	}
	if css.GetCondition(SinkBindingConditionSinkProvided) != nil {
		t.Errorf("the binding's SinkProvided condition was copied onto the source")
	}
}

func TestContainerSourceReadiness(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ContainerSourceStatus)
		want   apis.Condition
	}{{
		name:   "binding ready, adapter available",
		change: func(*ContainerSourceStatus) {},
		want:   apis.Condition{Type: ContainerSourceConditionReady, Status: corev1.ConditionTrue},
	}, {
		name: "binding failed",
		change: func(css *ContainerSourceStatus) {
			sbs := boundSinkBinding()
			sbs.MarkNoSink("NotFound", "Broker %q not found", "default")
			css.PropagateSinkBindingStatus(sbs)
		},
		want: apis.Condition{Type: ContainerSourceConditionReady, Status: corev1.ConditionFalse,
			Reason: "NotFound", Message: `Broker "default" not found`},
	}, {
		name:   "binding has not reported",
		change: func(css *ContainerSourceStatus) { css.PropagateSinkBindingStatus(&SinkBindingStatus{}) },
		want: apis.Condition{Type: ContainerSourceConditionReady, Status: corev1.ConditionUnknown,
			Reason: ReasonSinkBindingNotReady, Message: "The SinkBinding has not reported its status yet."},
	}, {
		name: "adapter unavailable",
		change: func(css *ContainerSourceStatus) {
			css.PropagateReceiveAdapterStatus(deployment(corev1.ConditionFalse, "MinimumReplicasUnavailable", "no pod ready"))
		},
		want: apis.Condition{Type: ContainerSourceConditionReady, Status: corev1.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "no pod ready"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			css := readyContainerSource()
			tc.change(css)
			checkCondition(t, css.GetCondition(ContainerSourceConditionReady), tc.want)
		})
	}
}
