package v1

import (
	"knative.dev/pkg/apis"
)

// Condition types of a Route.
const (
	// RouteConditionReady is True when the Route serves its traffic split
	// at its URL.
	RouteConditionReady = apis.ConditionReady
	// RouteConditionAllTrafficAssigned is True when every traffic target
	// resolved to a ready Revision.
	RouteConditionAllTrafficAssigned apis.ConditionType = "AllTrafficAssigned"
	// RouteConditionIngressReady is True once the gateway accepted and
	// serves the Route's HTTPRoutes.
	RouteConditionIngressReady apis.ConditionType = "IngressReady"
	// RouteConditionCertificateProvisioned is True when the Route's TLS
	// certificate is ready, or TLS is not enabled.
	RouteConditionCertificateProvisioned apis.ConditionType = "CertificateProvisioned"
)

// Reasons a Route can give on its conditions.
const (
	ReasonTLSNotEnabled = "TLSNotEnabled"
)

var routeCondSet = apis.NewLivingConditionSet(
	RouteConditionAllTrafficAssigned,
	RouteConditionIngressReady,
	RouteConditionCertificateProvisioned,
)

// GetConditionSet implements duckv1.KRShaped.
func (*Route) GetConditionSet() apis.ConditionSet { return routeCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (r *Route) IsReady() bool {
	return r.Generation == r.Status.ObservedGeneration &&
		r.Status.GetCondition(RouteConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (rs *RouteStatus) InitializeConditions() {
	routeCondSet.Manage(rs).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (rs *RouteStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return routeCondSet.Manage(rs).GetCondition(t)
}

// MarkTrafficAssigned says every target resolved.
func (rs *RouteStatus) MarkTrafficAssigned() {
	routeCondSet.Manage(rs).MarkTrue(RouteConditionAllTrafficAssigned)
}

// MarkConfigurationNotReady says a target's Configuration has no ready
// Revision yet.
func (rs *RouteStatus) MarkConfigurationNotReady(name string) {
	routeCondSet.Manage(rs).MarkUnknown(RouteConditionAllTrafficAssigned, "RevisionMissing",
		"Configuration %q is waiting for a Revision to become ready.", name)
}

// MarkConfigurationFailed says a target's Configuration has no ready
// Revision and its latest failed.
func (rs *RouteStatus) MarkConfigurationFailed(name string) {
	routeCondSet.Manage(rs).MarkFalse(RouteConditionAllTrafficAssigned, "RevisionMissing",
		"Configuration %q does not have any ready Revision.", name)
}

// MarkRevisionNotReady says a named target Revision is not ready yet.
func (rs *RouteStatus) MarkRevisionNotReady(name string) {
	routeCondSet.Manage(rs).MarkUnknown(RouteConditionAllTrafficAssigned, "RevisionMissing",
		"Revision %q is not yet ready.", name)
}

// MarkRevisionFailed says a named target Revision failed.
func (rs *RouteStatus) MarkRevisionFailed(name string) {
	routeCondSet.Manage(rs).MarkFalse(RouteConditionAllTrafficAssigned, "RevisionMissing",
		"Revision %q failed to become ready.", name)
}

// MarkMissingTrafficTarget says a target names an object that does not
// exist.
func (rs *RouteStatus) MarkMissingTrafficTarget(kind, name string) {
	routeCondSet.Manage(rs).MarkFalse(RouteConditionAllTrafficAssigned, kind+"Missing",
		"%s %q referenced in traffic not found.", kind, name)
}

// MarkIngressReady says the gateway serves the Route.
func (rs *RouteStatus) MarkIngressReady() {
	routeCondSet.Manage(rs).MarkTrue(RouteConditionIngressReady)
}

// MarkIngressNotReady says the gateway has not yet accepted or served the
// Route, with why.
func (rs *RouteStatus) MarkIngressNotReady(reason, message string) {
	routeCondSet.Manage(rs).MarkUnknown(RouteConditionIngressReady, reason, "%s", message)
}

// MarkIngressFailed says the gateway refused the Route.
func (rs *RouteStatus) MarkIngressFailed(reason, message string) {
	routeCondSet.Manage(rs).MarkFalse(RouteConditionIngressReady, reason, "%s", message)
}

// MarkTLSNotEnabled says the Route is served without TLS, so there is no
// certificate to wait for.
func (rs *RouteStatus) MarkTLSNotEnabled() {
	routeCondSet.Manage(rs).MarkTrueWithReason(RouteConditionCertificateProvisioned, ReasonTLSNotEnabled,
		"TLS is not enabled for this Route.")
}
