package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
)

// readyTrigger returns the status of a Trigger whose every dependency is
// ready.
func readyTrigger() *TriggerStatus {
	ts := &TriggerStatus{}
	ts.InitializeConditions()
	ts.PropagateBrokerCondition(&apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue})
	ts.MarkSubscriberResolved(apis.HTTP("handler.shop.svc.cluster.local"))
	ts.MarkDeadLetterSinkResolved(apis.HTTP("dls.shop.svc.cluster.local"))
	ts.MarkSubscriptionReady()
	return ts
}

func TestTriggerPropagateBrokerCondition(t *testing.T) {
	tests := []struct {
		name   string
		broker *apis.Condition
		want   apis.Condition
	}{{
		name: "Broker has not reported",
		want: apis.Condition{Type: TriggerConditionBroker, Status: corev1.ConditionUnknown,
			Reason: ReasonBrokerNotReady, Message: "The Broker has not reported its status yet."},
	}, {
		name:   "Broker ready",
		broker: &apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue},
		want:   apis.Condition{Type: TriggerConditionBroker, Status: corev1.ConditionTrue},
	}, {
		name:   "Broker failed",
		broker: &apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: "StreamCreateFailed", Message: "no stream"},
		want: apis.Condition{Type: TriggerConditionBroker, Status: corev1.ConditionFalse,
			Reason: ReasonBrokerFailed, Message: "The Broker is not ready: no stream"},
	}, {
		name:   "Broker still starting",
		broker: &apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionUnknown, Message: "no ready endpoint"},
		want: apis.Condition{Type: TriggerConditionBroker, Status: corev1.ConditionUnknown,
			Reason: ReasonBrokerNotReady, Message: "The Broker is not ready yet: no ready endpoint"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := readyTrigger()
			ts.PropagateBrokerCondition(tc.broker)
			checkCondition(t, ts.GetCondition(TriggerConditionBroker), tc.want)
			// Ready follows the Broker's condition, whatever it is.
			ready := tc.want
			ready.Type = TriggerConditionReady
			checkCondition(t, ts.GetCondition(TriggerConditionReady), ready)
		})
	}
}

func TestTriggerReadiness(t *testing.T) {
	tests := []struct {
		name   string
		change func(*TriggerStatus)
		want   apis.Condition
	}{{
		name:   "every dependency ready",
		change: func(*TriggerStatus) {},
		want:   apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionTrue},
	}, {
		name:   "no dead-letter sink is fine",
		change: (*TriggerStatus).MarkDeadLetterSinkNotConfigured,
		want:   apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionTrue},
	}, {
		name:   "Broker does not exist",
		change: func(ts *TriggerStatus) { ts.MarkBrokerDoesNotExist("shop", "default") },
		want: apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionFalse, Reason: ReasonBrokerDoesNotExist,
			Message: `Broker "default" does not exist in namespace "shop": create it, or set spec.broker to an existing one.`},
	}, {
		name:   "subscriber does not resolve",
		change: func(ts *TriggerStatus) { ts.MarkSubscriberResolveFailed("service %q not found", "handler") },
		want: apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionFalse,
			Reason: ReasonUnresolved, Message: `service "handler" not found`},
	}, {
		name:   "dead-letter sink does not resolve",
		change: func(ts *TriggerStatus) { ts.MarkDeadLetterSinkResolveFailed("service %q not found", "dls") },
		want: apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionFalse,
			Reason: ReasonUnresolved, Message: `service "dls" not found`},
	}, {
		name:   "consumer failed",
		change: func(ts *TriggerStatus) { ts.MarkSubscriptionFailed("ConsumerCreateFailed", "JetStream: %s", "denied") },
		want: apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionFalse,
			Reason: "ConsumerCreateFailed", Message: "JetStream: denied"},
	}, {
		name: "consumer waits for the stream",
		change: func(ts *TriggerStatus) {
			ts.MarkSubscriptionNotReady("StreamNotReady", "waiting for the Broker's stream")
		},
		want: apis.Condition{Type: TriggerConditionReady, Status: corev1.ConditionUnknown,
			Reason: "StreamNotReady", Message: "waiting for the Broker's stream"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := readyTrigger()
			tc.change(ts)
			checkCondition(t, ts.GetCondition(TriggerConditionReady), tc.want)
		})
	}
}

func TestTriggerDeadLetterSinkNotConfiguredKeepsReadyPossible(t *testing.T) {
	var ts TriggerStatus
	ts.InitializeConditions()
	ts.MarkDeadLetterSinkResolved(apis.HTTP("dls.shop.svc.cluster.local"))
	ts.MarkDeadLetterSinkNotConfigured()
	if ts.DeadLetterSinkURI != nil {
		t.Errorf("DeadLetterSinkURI = %v, want nil once the sink is gone", ts.DeadLetterSinkURI)
	}
	checkCondition(t, ts.GetCondition(TriggerConditionDeadLetterSinkResolved), apis.Condition{
		Type: TriggerConditionDeadLetterSinkResolved, Status: corev1.ConditionTrue,
		Reason: "DeadLetterSinkNotConfigured", Message: "No dead-letter sink is configured.",
	})

	ts.PropagateBrokerCondition(&apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue})
	ts.MarkSubscriberResolved(apis.HTTP("handler.shop.svc.cluster.local"))
	ts.MarkSubscriptionReady()
	tr := &Trigger{Status: ts}
	if !tr.IsReady() {
		t.Errorf("IsReady() = false, want true; Ready = %+v", tr.Status.GetCondition(TriggerConditionReady))
	}
}

func TestTriggerIsReady(t *testing.T) {
	tests := []struct {
		name               string
		generation         int64
		observedGeneration int64
		status             *TriggerStatus
		want               bool
	}{{
		name:               "ready at the observed generation",
		generation:         4,
		observedGeneration: 4,
		status:             readyTrigger(),
		want:               true,
	}, {
		name:               "ready, but for an older spec",
		generation:         5,
		observedGeneration: 4,
		status:             readyTrigger(),
	}, {
		name:               "just created",
		generation:         1,
		observedGeneration: 1,
		status: func() *TriggerStatus {
			ts := &TriggerStatus{}
			ts.InitializeConditions()
			return ts
		}(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &Trigger{Status: *tc.status}
			tr.Generation = tc.generation
			tr.Status.ObservedGeneration = tc.observedGeneration
			if got := tr.IsReady(); got != tc.want {
				t.Errorf("IsReady() = %v, want %v", got, tc.want)
			}
		})
	}
}
