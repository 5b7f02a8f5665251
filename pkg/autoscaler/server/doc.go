// Package server wires the autoscaler binary (cmd/autoscaler): the
// built-in class's PodAutoscaler reconciler with its per-Revision loops,
// the endpoint that takes the activators' reports, and the custom
// metrics API the HPA class reads.
package server
