package v1

import (
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
)

// Condition types of a Service.
const (
	// ServiceConditionReady is True when the Service serves its latest
	// ready Revision at its URL.
	ServiceConditionReady = apis.ConditionReady
	// ServiceConditionConfigurationsReady mirrors the Ready condition of
	// the Service's Configuration.
	ServiceConditionConfigurationsReady apis.ConditionType = "ConfigurationsReady"
	// ServiceConditionRoutesReady mirrors the Ready condition of the
	// Service's Route.
	ServiceConditionRoutesReady apis.ConditionType = "RoutesReady"
)

// Reasons a Service can give on its conditions.
const (
	// ReasonNotOwned says a child object of the Service's name exists but
	// is controlled by something else, so the Service will not take it over.
	ReasonNotOwned = "NotOwned"
	// ReasonOutOfDate says a child object has not yet caught up with the
	// Service's latest spec.
	ReasonOutOfDate = "OutOfDate"
	// ReasonRevisionMissing says a traffic target names a Revision that
	// does not exist.
	ReasonRevisionMissing = "RevisionMissing"
)

var serviceCondSet = apis.NewLivingConditionSet(
	ServiceConditionConfigurationsReady,
	ServiceConditionRoutesReady,
)

// GetConditionSet implements duckv1.KRShaped.
func (*Service) GetConditionSet() apis.ConditionSet { return serviceCondSet }

// IsReady reports whether the Service's status reflects its latest spec
// and says Ready.
func (s *Service) IsReady() bool {
	return s.Generation == s.Status.ObservedGeneration &&
		s.Status.GetCondition(ServiceConditionReady).IsTrue()
}

// IsFailed reports whether the Service's Ready condition is False.
func (s *Service) IsFailed() bool {
	return s.Status.GetCondition(ServiceConditionReady).IsFalse()
}

// InitializeConditions sets every condition of the Service to Unknown.
func (ss *ServiceStatus) InitializeConditions() {
	serviceCondSet.Manage(ss).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (ss *ServiceStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return serviceCondSet.Manage(ss).GetCondition(t)
}

// MarkConfigurationNotOwned says the Configuration of the Service's name is
// controlled by another object.
func (ss *ServiceStatus) MarkConfigurationNotOwned(name string) {
	serviceCondSet.Manage(ss).MarkFalse(ServiceConditionConfigurationsReady, ReasonNotOwned,
		"There is an existing Configuration %q that we do not own.", name)
}

// MarkRouteNotOwned says the Route of the Service's name is controlled by
// another object.
func (ss *ServiceStatus) MarkRouteNotOwned(name string) {
	serviceCondSet.Manage(ss).MarkFalse(ServiceConditionRoutesReady, ReasonNotOwned,
		"There is an existing Route %q that we do not own.", name)
}

// MarkConfigurationNotReconciled says the Configuration has not yet
// observed the Service's latest template.
func (ss *ServiceStatus) MarkConfigurationNotReconciled() {
	serviceCondSet.Manage(ss).MarkUnknown(ServiceConditionConfigurationsReady, ReasonOutOfDate,
		"The Configuration is still working to reflect the latest desired specification.")
}

// MarkRouteNotReconciled says the Route has not yet observed the Service's
// latest traffic.
func (ss *ServiceStatus) MarkRouteNotReconciled() {
	serviceCondSet.Manage(ss).MarkUnknown(ServiceConditionRoutesReady, ReasonOutOfDate,
		"The Route is still working to reflect the latest desired specification.")
}

// MarkRevisionNameTaken says the template names a Revision that already
// exists with a different spec.
func (ss *ServiceStatus) MarkRevisionNameTaken(name string) {
	serviceCondSet.Manage(ss).MarkFalse(ServiceConditionRoutesReady, "RevisionNameTaken",
		"The revision name %q is taken by a Revision with a different spec.", name)
}

// MarkRouteNotYetReady says the Route waits for the Configuration's latest
// Revision before it can send traffic to it.
func (ss *ServiceStatus) MarkRouteNotYetReady() {
	serviceCondSet.Manage(ss).MarkUnknown(ServiceConditionRoutesReady, "TrafficNotMigrated",
		"Traffic is not yet migrated to the latest revision.")
}

// PropagateConfigurationStatus copies the revision names and the Ready
// condition of the Service's Configuration.
func (ss *ServiceStatus) PropagateConfigurationStatus(cs *ConfigurationStatus) {
	ss.ConfigurationStatusFields = cs.ConfigurationStatusFields
	propagate(ss, cs.GetCondition(ConfigurationConditionReady), ServiceConditionConfigurationsReady)
}

// PropagateRouteStatus copies the URL, address, traffic and Ready
// condition of the Service's Route.
func (ss *ServiceStatus) PropagateRouteStatus(rs *RouteStatus) {
	ss.RouteStatusFields = rs.RouteStatusFields
	propagate(ss, rs.GetCondition(RouteConditionReady), ServiceConditionRoutesReady)
}

// propagate copies a child's Ready condition into the Service condition t.
func propagate(ss *ServiceStatus, child *apis.Condition, t apis.ConditionType) {
	m := serviceCondSet.Manage(ss)
	switch {
	case child == nil:
		m.MarkUnknown(t, "Unknown", "The child object has not reported status yet.")
	case child.Status == corev1.ConditionTrue:
		m.MarkTrue(t)
	case child.Status == corev1.ConditionFalse:
		m.MarkFalse(t, child.Reason, "%s", child.Message)
	default:
		m.MarkUnknown(t, child.Reason, "%s", child.Message)
	}
}
