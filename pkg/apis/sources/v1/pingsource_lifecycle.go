package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	"knative.dev/pkg/apis"
)

// Condition types of a PingSource.
const (
	// PingSourceConditionReady is True when the PingSource sends its
	// events to its sink at each tick.
	PingSourceConditionReady = apis.ConditionReady
	// PingSourceConditionSinkProvided is True when the sink resolved to a
	// URL.
	PingSourceConditionSinkProvided = ConditionSinkProvided
	// PingSourceConditionDeployed is True when the adapter that sends the
	// events of every PingSource is available.
	PingSourceConditionDeployed apis.ConditionType = "Deployed"
)

var pingSourceCondSet = apis.NewLivingConditionSet(
	PingSourceConditionSinkProvided,
	PingSourceConditionDeployed,
)

// GetConditionSet implements duckv1.KRShaped.
func (*PingSource) GetConditionSet() apis.ConditionSet { return pingSourceCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (p *PingSource) IsReady() bool {
	return p.Generation == p.Status.ObservedGeneration &&
		p.Status.GetCondition(PingSourceConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (ps *PingSourceStatus) InitializeConditions() {
	pingSourceCondSet.Manage(ps).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (ps *PingSourceStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return pingSourceCondSet.Manage(ps).GetCondition(t)
}

// MarkSink records the resolved sink; nil means it resolved to no URL.
func (ps *PingSourceStatus) MarkSink(uri *apis.URL) {
	markSink(pingSourceCondSet.Manage(ps), PingSourceConditionSinkProvided, &ps.SourceStatus, uri)
}

// MarkNoSink says the sink does not resolve.
func (ps *PingSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(pingSourceCondSet.Manage(ps), PingSourceConditionSinkProvided, &ps.SourceStatus, reason, format, args...)
}

// PropagateDeploymentAvailability reflects whether the adapter's
// Deployment is available.
func (ps *PingSourceStatus) PropagateDeploymentAvailability(d *appsv1.Deployment) {
	propagateDeploymentAvailability(pingSourceCondSet.Manage(ps), PingSourceConditionDeployed, d)
}

// MarkNotDeployed says the adapter cannot run: its Deployment is missing,
// so there is no condition of its own to reflect.
func (ps *PingSourceStatus) MarkNotDeployed(reason, format string, args ...any) {
	pingSourceCondSet.Manage(ps).MarkFalse(PingSourceConditionDeployed, reason, format, args...)
}
