// Package resources builds what the Route reconciler writes and reports:
// the hosts and URLs of a Route and the Gateway API HTTPRoutes that serve
// its traffic there. Its functions are pure: the reconciler compares what
// they return with what the cluster has.
package resources
