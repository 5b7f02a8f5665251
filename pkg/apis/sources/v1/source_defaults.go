package v1

import (
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// setSinkDefaults gives a sink's ref the namespace of the source that holds
// it: a ref without a namespace means the source's own, as in Knative.
func setSinkDefaults(spec *duckv1.SourceSpec, namespace string) {
	if ref := spec.Sink.Ref; ref != nil && ref.Namespace == "" {
		ref.Namespace = namespace
	}
}
