package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	"knative.dev/pkg/apis"
)

// Condition types of a ContainerSource.
const (
	// ContainerSourceConditionReady is True when the source's pods run,
	// bound to its sink.
	ContainerSourceConditionReady = apis.ConditionReady
	// ContainerSourceConditionSinkBindingReady is True when the
	// SinkBinding that gives the pods K_SINK is ready.
	ContainerSourceConditionSinkBindingReady apis.ConditionType = "SinkBindingReady"
	// ContainerSourceConditionReceiveAdapterReady is True when the
	// Deployment that runs the template is available.
	ContainerSourceConditionReceiveAdapterReady apis.ConditionType = "ReceiveAdapterReady"
)

// ReasonSinkBindingNotReady says the source's SinkBinding has not
// reported its status yet.
const ReasonSinkBindingNotReady = "SinkBindingNotReady"

var containerSourceCondSet = apis.NewLivingConditionSet(
	ContainerSourceConditionSinkBindingReady,
	ContainerSourceConditionReceiveAdapterReady,
)

// GetConditionSet implements duckv1.KRShaped.
func (*ContainerSource) GetConditionSet() apis.ConditionSet { return containerSourceCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (cs *ContainerSource) IsReady() bool {
	return cs.Generation == cs.Status.ObservedGeneration &&
		cs.Status.GetCondition(ContainerSourceConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (css *ContainerSourceStatus) InitializeConditions() {
	containerSourceCondSet.Manage(css).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (css *ContainerSourceStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return containerSourceCondSet.Manage(css).GetCondition(t)
}

// PropagateSinkBindingStatus takes the sink and the event attributes from
// the source's SinkBinding, and its Ready condition as SinkBindingReady.
// The source's own conditions and observed generation are kept: they
// describe the source, not the binding.
func (css *ContainerSourceStatus) PropagateSinkBindingStatus(sbs *SinkBindingStatus) {
	css.SinkURI = sbs.SinkURI
	css.SinkCACerts = sbs.SinkCACerts
	css.SinkAudience = sbs.SinkAudience
	css.CloudEventAttributes = sbs.CloudEventAttributes
	css.Auth = sbs.Auth

	m := containerSourceCondSet.Manage(css)
	ready := sbs.GetCondition(SinkBindingConditionReady)
	switch {
	case ready.IsTrue():
		m.MarkTrue(ContainerSourceConditionSinkBindingReady)
	case ready.IsFalse():
		m.MarkFalse(ContainerSourceConditionSinkBindingReady, ready.Reason, "%s", ready.Message)
	case ready == nil:
		m.MarkUnknown(ContainerSourceConditionSinkBindingReady, ReasonSinkBindingNotReady, "The SinkBinding has not reported its status yet.")
	default:
		m.MarkUnknown(ContainerSourceConditionSinkBindingReady, ready.Reason, "%s", ready.Message)
	}
}

// PropagateReceiveAdapterStatus reflects whether the Deployment that runs
// the template is available.
func (css *ContainerSourceStatus) PropagateReceiveAdapterStatus(d *appsv1.Deployment) {
	propagateDeploymentAvailability(containerSourceCondSet.Manage(css), ContainerSourceConditionReceiveAdapterReady, d)
}
