// Package routing turns a Gateway and the HTTPRoutes, Services and
// EndpointSlices it serves into an immutable routing Table, and answers,
// for a request, which rule of which HTTPRoute serves it, following the
// Gateway API's hostname, match and precedence rules.
//
// Build is pure: it reads its inputs through plain functions and does no
// I/O, so that every routing decision can be tested without a cluster.
// Along with the Table it reports, per HTTPRoute and parent, whether the
// route was accepted and its references resolved: the status the Gateway
// owes, computed from exactly what the Table serves.
package routing
