// Package serverlessservice writes the EndpointSlices of each Revision's
// public Service, the selectorless Service that gateways send the
// Revision's traffic to. It is the switch of the request path: in serve
// mode the slices hold the Revision's ready pods, mirrored from the
// private Service's slices that kube-controller-manager writes; in proxy
// mode, which arrives with the activator, they will hold the activator's
// pods instead.
//
// The desired slices are a pure function of the Revision, the mode and
// the source slices (desiredSlices); the mode is decided in one place
// (endpointsMode). The reconciler writes only slices it manages and the
// Revision controls, and leaves any other slice of the public Service
// alone.
package serverlessservice
