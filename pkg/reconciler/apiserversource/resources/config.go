package resources

import (
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources/apiserver"
)

// Scope is where a source watches its namespaced kinds: every namespace
// (All), or each of Namespaces.
type Scope struct {
	All        bool
	Namespaces []string
}

// MakeAdapterConfig is what src's adapter watches: the resources as the
// API server serves them (resolved from spec.resources, in order), in
// scope, and how it reports a change. ceSource is the source attribute of
// the events.
func MakeAdapterConfig(src *sourcesv1.ApiServerSource, resolved []apiserver.Resource, scope Scope, ceSource string) apiserver.Config {
	cfg := apiserver.Config{
		SourceNamespace:  src.Namespace,
		SourceName:       src.Name,
		CloudEventSource: ceSource,
		Mode:             string(mode(src)),
		Resources:        resolved,
		AllNamespaces:    scope.All,
		Namespaces:       scope.Namespaces,
	}
	if o := src.Spec.Owner; o != nil {
		cfg.Owner = &apiserver.Owner{APIVersion: o.APIVersion, Kind: o.Kind}
	}
	return cfg
}

// CloudEventAttributes are the type and source of the events src sends,
// for its status.ceAttributes: one for each change, in src's mode.
func CloudEventAttributes(src *sourcesv1.ApiServerSource, ceSource string) []duckv1.CloudEventAttributes {
	wholeObject := mode(src) == sourcesv1.EventModeResource
	attrs := make([]duckv1.CloudEventAttributes, 0, len(apiserver.Changes))
	for _, c := range apiserver.Changes {
		attrs = append(attrs, duckv1.CloudEventAttributes{Type: apiserver.EventType(c, wholeObject), Source: ceSource})
	}
	return attrs
}

// mode is src's spec.mode, Reference when unset: the webhook defaults it,
// and a source stored before the webhook ran means the same.
func mode(src *sourcesv1.ApiServerSource) sourcesv1.EventMode {
	if src.Spec.Mode == "" {
		return sourcesv1.EventModeReference
	}
	return src.Spec.Mode
}
