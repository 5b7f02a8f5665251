// Package route reconciles Knative Routes into Gateway API HTTPRoutes.
//
// Each target of a Route resolves to a Revision (a Configuration's latest
// ready one, or one named), and the Route is served at one HTTPRoute per
// host: its main host splits requests by percent and picks a tag by the
// Knative-Serving-Tag header, each tag has a host of its own, and every
// host exists twice, publicly on config-network's external Gateway and as
// <name>.<namespace>.svc.cluster.local on its cluster-local one (only the
// latter for a cluster-local Route). The Route is Ready once the Gateways
// accept the current generation of every HTTPRoute; until then its status
// keeps the traffic it served before.
//
// The reconciler also records on each Configuration and Revision which
// Routes send it traffic (the serving.knative.dev/routes annotation) and
// keeps each Revision's routingState label (active while routed, reserve
// after), which the garbage collector and the autoscaler act on. With the
// serving.knative.dev/rollout-duration annotation, a Configuration's new
// Revision takes its traffic in steps over that duration; package traffic
// decides the steps.
package route
