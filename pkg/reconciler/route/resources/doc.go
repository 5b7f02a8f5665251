// Package resources builds what the Route reconciler writes and reports:
// the hosts and URLs of a Route, the Gateway API HTTPRoutes that serve
// its traffic there, and the Service that gives its cluster-local host a
// DNS name. Its functions are pure: the reconciler compares what they
// return with what the cluster has.
package resources
