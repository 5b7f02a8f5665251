package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	"knative.dev/pkg/apis"
)

// Condition types of an ApiServerSource.
const (
	// ApiServerSourceConditionReady is True when the source's adapter
	// watches what it asks for and sends the events to its sink.
	ApiServerSourceConditionReady = apis.ConditionReady
	// ApiServerSourceConditionSinkProvided is True when the sink resolved
	// to a URL.
	ApiServerSourceConditionSinkProvided = ConditionSinkProvided
	// ApiServerSourceConditionDeployed is True when the source's adapter
	// Deployment is available.
	ApiServerSourceConditionDeployed apis.ConditionType = "Deployed"
	// ApiServerSourceConditionSufficientPermissions is True when the
	// source's service account may get, list and watch every resource the
	// source watches.
	ApiServerSourceConditionSufficientPermissions apis.ConditionType = "SufficientPermissions"
)

var apiServerSourceCondSet = apis.NewLivingConditionSet(
	ApiServerSourceConditionSinkProvided,
	ApiServerSourceConditionDeployed,
	ApiServerSourceConditionSufficientPermissions,
)

// GetConditionSet implements duckv1.KRShaped.
func (*ApiServerSource) GetConditionSet() apis.ConditionSet { return apiServerSourceCondSet }

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (a *ApiServerSource) IsReady() bool {
	return a.Generation == a.Status.ObservedGeneration &&
		a.Status.GetCondition(ApiServerSourceConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (as *ApiServerSourceStatus) InitializeConditions() {
	apiServerSourceCondSet.Manage(as).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (as *ApiServerSourceStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return apiServerSourceCondSet.Manage(as).GetCondition(t)
}

// MarkSink records the resolved sink; nil means it resolved to no URL.
func (as *ApiServerSourceStatus) MarkSink(uri *apis.URL) {
	markSink(apiServerSourceCondSet.Manage(as), ApiServerSourceConditionSinkProvided, &as.SourceStatus, uri)
}

// MarkNoSink says the sink does not resolve.
func (as *ApiServerSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(apiServerSourceCondSet.Manage(as), ApiServerSourceConditionSinkProvided, &as.SourceStatus, reason, format, args...)
}

// PropagateDeploymentAvailability reflects whether the source's adapter
// Deployment is available.
func (as *ApiServerSourceStatus) PropagateDeploymentAvailability(d *appsv1.Deployment) {
	propagateDeploymentAvailability(apiServerSourceCondSet.Manage(as), ApiServerSourceConditionDeployed, d)
}

// MarkNotDeployed says the adapter's Deployment cannot be had (the name
// is taken, the API server refused it), so there is no condition of its
// own to reflect.
func (as *ApiServerSourceStatus) MarkNotDeployed(reason, format string, args ...any) {
	apiServerSourceCondSet.Manage(as).MarkFalse(ApiServerSourceConditionDeployed, reason, format, args...)
}

// MarkSufficientPermissions says the service account may watch every
// resource the source asks for.
func (as *ApiServerSourceStatus) MarkSufficientPermissions() {
	apiServerSourceCondSet.Manage(as).MarkTrue(ApiServerSourceConditionSufficientPermissions)
}

// MarkNoSufficientPermissions says the service account may not watch some
// resource; the message names the account, the verb and the resource, so
// that the user knows which Role to grant.
func (as *ApiServerSourceStatus) MarkNoSufficientPermissions(reason, format string, args ...any) {
	apiServerSourceCondSet.Manage(as).MarkFalse(ApiServerSourceConditionSufficientPermissions, reason, format, args...)
}
