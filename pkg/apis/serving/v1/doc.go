// Package v1 is the Knative Serving API, serving.knative.dev/v1: Service,
// Configuration, Revision and Route, wire-compatible with Knative's public
// specification so that existing manifests and clients work unchanged.
//
// +k8s:deepcopy-gen=package
// +groupName=serving.knative.dev
package v1
