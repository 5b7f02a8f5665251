// Package v1 is the Knative Eventing API, eventing.knative.dev/v1: Broker
// and Trigger, with the DeliverySpec they share, wire-compatible with
// Knative's public specification so that existing manifests and the stock
// kn client work unchanged.
//
// +k8s:deepcopy-gen=package
// +groupName=eventing.knative.dev
package v1
