package v1

import (
	"knative.dev/pkg/apis"
)

// Condition types of a Trigger.
const (
	// TriggerConditionReady is True when matching events of the Broker
	// are delivered to the subscriber.
	TriggerConditionReady = apis.ConditionReady
	// TriggerConditionBroker is True when the Trigger's Broker is ready.
	TriggerConditionBroker apis.ConditionType = "BrokerReady"
	// TriggerConditionSubscriberResolved is True when the subscriber
	// resolved to a URL.
	TriggerConditionSubscriberResolved apis.ConditionType = "SubscriberResolved"
	// TriggerConditionDeadLetterSinkResolved is True when the dead-letter
	// sink in use resolved to a URL, or there is none.
	TriggerConditionDeadLetterSinkResolved apis.ConditionType = "DeadLetterSinkResolved"
	// TriggerConditionSubscription is True when the Trigger's durable
	// JetStream consumer exists as its spec says.
	TriggerConditionSubscription apis.ConditionType = "SubscriptionReady"
)

// Reasons a Trigger can give on its conditions.
const (
	ReasonBrokerDoesNotExist = "BrokerDoesNotExist"
	ReasonBrokerNotReady     = "BrokerNotReady"
	ReasonBrokerFailed       = "BrokerFailed"
	ReasonUnresolved         = "Unresolved"
)

var triggerCondSet = apis.NewLivingConditionSet(
	TriggerConditionBroker,
	TriggerConditionSubscriberResolved,
	TriggerConditionDeadLetterSinkResolved,
	TriggerConditionSubscription,
)

// GetConditionSet implements duckv1.KRShaped.
func (*Trigger) GetConditionSet() apis.ConditionSet { return triggerCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (t *Trigger) IsReady() bool {
	return t.Generation == t.Status.ObservedGeneration &&
		t.Status.GetCondition(TriggerConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (ts *TriggerStatus) InitializeConditions() {
	triggerCondSet.Manage(ts).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (ts *TriggerStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return triggerCondSet.Manage(ts).GetCondition(t)
}

// PropagateBrokerCondition reflects the Broker's Ready condition; nil
// means the Broker has not reported yet.
func (ts *TriggerStatus) PropagateBrokerCondition(bc *apis.Condition) {
	m := triggerCondSet.Manage(ts)
	switch {
	case bc == nil:
		m.MarkUnknown(TriggerConditionBroker, ReasonBrokerNotReady, "The Broker has not reported its status yet.")
	case bc.IsTrue():
		m.MarkTrue(TriggerConditionBroker)
	case bc.IsFalse():
		m.MarkFalse(TriggerConditionBroker, ReasonBrokerFailed, "The Broker is not ready: %s", bc.Message)
	default:
		m.MarkUnknown(TriggerConditionBroker, ReasonBrokerNotReady, "The Broker is not ready yet: %s", bc.Message)
	}
}

// MarkBrokerDoesNotExist says the named Broker is not there.
func (ts *TriggerStatus) MarkBrokerDoesNotExist(namespace, name string) {
	triggerCondSet.Manage(ts).MarkFalse(TriggerConditionBroker, ReasonBrokerDoesNotExist,
		"Broker %q does not exist in namespace %q: create it, or set spec.broker to an existing one.", name, namespace)
}

// MarkSubscriberResolved records the resolved subscriber.
func (ts *TriggerStatus) MarkSubscriberResolved(uri *apis.URL) {
	ts.SubscriberURI = uri
	triggerCondSet.Manage(ts).MarkTrue(TriggerConditionSubscriberResolved)
}

// MarkSubscriberResolveFailed says the subscriber does not resolve.
func (ts *TriggerStatus) MarkSubscriberResolveFailed(format string, args ...any) {
	ts.SubscriberURI = nil
	triggerCondSet.Manage(ts).MarkFalse(TriggerConditionSubscriberResolved, ReasonUnresolved, format, args...)
}

// MarkDeadLetterSinkResolved records the resolved dead-letter sink.
func (ts *TriggerStatus) MarkDeadLetterSinkResolved(uri *apis.URL) {
	ts.DeadLetterSinkURI = uri
	triggerCondSet.Manage(ts).MarkTrue(TriggerConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkNotConfigured says neither the Trigger nor its Broker
// has a dead-letter sink: events that fail every attempt are dropped.
func (ts *TriggerStatus) MarkDeadLetterSinkNotConfigured() {
	ts.DeadLetterSinkURI = nil
	triggerCondSet.Manage(ts).MarkTrueWithReason(TriggerConditionDeadLetterSinkResolved, "DeadLetterSinkNotConfigured", "No dead-letter sink is configured.")
}

// MarkDeadLetterSinkResolveFailed says the dead-letter sink does not
// resolve.
func (ts *TriggerStatus) MarkDeadLetterSinkResolveFailed(format string, args ...any) {
	ts.DeadLetterSinkURI = nil
	triggerCondSet.Manage(ts).MarkFalse(TriggerConditionDeadLetterSinkResolved, ReasonUnresolved, format, args...)
}

// MarkSubscriptionReady says the Trigger's consumer exists.
func (ts *TriggerStatus) MarkSubscriptionReady() {
	triggerCondSet.Manage(ts).MarkTrue(TriggerConditionSubscription)
}

// MarkSubscriptionFailed says the Trigger's consumer could not be made.
func (ts *TriggerStatus) MarkSubscriptionFailed(reason, format string, args ...any) {
	triggerCondSet.Manage(ts).MarkFalse(TriggerConditionSubscription, reason, format, args...)
}

// MarkSubscriptionNotReady says the consumer waits on something else (the
// Broker's stream, the subscriber).
func (ts *TriggerStatus) MarkSubscriptionNotReady(reason, format string, args ...any) {
	triggerCondSet.Manage(ts).MarkUnknown(TriggerConditionSubscription, reason, format, args...)
}
