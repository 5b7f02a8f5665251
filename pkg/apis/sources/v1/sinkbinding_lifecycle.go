package v1

import (
	"knative.dev/pkg/apis"
)

// Condition types of a SinkBinding. As in Knative, there is no separate
// condition for the binding itself: Ready says whether the subjects are
// bound (MarkBindingAvailable, MarkBindingUnavailable).
const (
	// SinkBindingConditionReady is True when every subject's pod template
	// carries the sink.
	SinkBindingConditionReady = apis.ConditionReady
	// SinkBindingConditionSinkProvided is True when the sink resolved to a
	// URL.
	SinkBindingConditionSinkProvided = ConditionSinkProvided
)

var sinkBindingCondSet = apis.NewLivingConditionSet(
	SinkBindingConditionSinkProvided,
)

// GetConditionSet implements duckv1.KRShaped.
func (*SinkBinding) GetConditionSet() apis.ConditionSet { return sinkBindingCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (sb *SinkBinding) IsReady() bool {
	return sb.Generation == sb.Status.ObservedGeneration &&
		sb.Status.GetCondition(SinkBindingConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (sbs *SinkBindingStatus) InitializeConditions() {
	sinkBindingCondSet.Manage(sbs).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (sbs *SinkBindingStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return sinkBindingCondSet.Manage(sbs).GetCondition(t)
}

// MarkSink records the resolved sink; nil means it resolved to no URL.
func (sbs *SinkBindingStatus) MarkSink(uri *apis.URL) {
	markSink(sinkBindingCondSet.Manage(sbs), SinkBindingConditionSinkProvided, &sbs.SourceStatus, uri)
}

// MarkNoSink says the sink does not resolve.
func (sbs *SinkBindingStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(sinkBindingCondSet.Manage(sbs), SinkBindingConditionSinkProvided, &sbs.SourceStatus, reason, format, args...)
}

// MarkBindingAvailable says every subject is bound. Ready then follows
// the sink: subjects bound to a sink that does not resolve are not ready.
// A reconciler records the sink first and the binding last, since the sink
// turning True would otherwise turn Ready True over a binding that failed.
func (sbs *SinkBindingStatus) MarkBindingAvailable() {
	m := sinkBindingCondSet.Manage(sbs)
	sink := m.GetCondition(SinkBindingConditionSinkProvided)
	switch {
	case sink.IsTrue():
		m.MarkTrue(SinkBindingConditionReady)
	case sink.IsFalse():
		m.MarkFalse(SinkBindingConditionReady, sink.Reason, "%s", sink.Message)
	case sink == nil:
		m.MarkUnknown(SinkBindingConditionReady, ReasonSinkNotResolved, "The sink has not been resolved yet.")
	default:
		m.MarkUnknown(SinkBindingConditionReady, sink.Reason, "%s", sink.Message)
	}
}

// MarkBindingUnavailable says some subject could not be bound, or is not
// there.
func (sbs *SinkBindingStatus) MarkBindingUnavailable(reason, format string, args ...any) {
	sinkBindingCondSet.Manage(sbs).MarkFalse(SinkBindingConditionReady, reason, format, args...)
}
