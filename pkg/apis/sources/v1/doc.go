// Package v1 is the Knative sources API, sources.knative.dev/v1:
// PingSource, ApiServerSource, SinkBinding and ContainerSource, each a
// producer of CloudEvents that posts them to a sink. It is wire-compatible
// with Knative's public specification so that existing manifests and the
// stock kn client's source commands work unchanged.
//
// +k8s:deepcopy-gen=package
// +groupName=sources.knative.dev
package v1
