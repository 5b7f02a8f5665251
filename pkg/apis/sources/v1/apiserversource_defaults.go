package v1

import "context"

// DefaultServiceAccountName is the account an ApiServerSource watches with
// when it names none, as in Knative.
const DefaultServiceAccountName = "default"

// SetDefaults gives an ApiServerSource Reference mode and the default
// service account when it names none, and its sink's ref the source's
// namespace.
func (a *ApiServerSource) SetDefaults(context.Context) {
	if a.Spec.Mode == "" {
		a.Spec.Mode = EventModeReference
	}
	if a.Spec.ServiceAccountName == "" {
		a.Spec.ServiceAccountName = DefaultServiceAccountName
	}
	setSinkDefaults(&a.Spec.SourceSpec, a.Namespace)
}
