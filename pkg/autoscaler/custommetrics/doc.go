// Package custommetrics serves the autoscaler's load figures as the
// Kubernetes custom metrics API (custom.metrics.k8s.io), so that a
// HorizontalPodAutoscaler can scale Revisions of the HPA class on them.
//
// Two Pods metrics are served, autoscaling.ConcurrencyMetric and
// autoscaling.RequestsPerSecondMetric. The autoscaler measures a Revision
// as a whole (the sum over its pods, averaged over a window); each ready
// pod of the Revision is given an equal share of that total. The HPA averages the
// values of a Revision's pods, so it sees total ÷ ready pods, the load
// each pod carries, and compares that with the target per pod.
//
// Provider answers the queries; NewServer builds the HTTPS API server
// around it, with authentication and authorization delegated to the
// kube-apiserver as for any aggregated API.
package custommetrics
