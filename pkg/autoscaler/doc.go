// Package autoscaler is the built-in autoscaler: it scrapes the sidecars'
// and the activator's load figures, decides how many pods each Revision
// of class kpa.autoscaling.knative.dev wants, and serves the same figures
// as Kubernetes custom metrics for the HPA class. It is split by pipeline
// stage: metrics (collection and windows), scaling (the decision).
package autoscaler
