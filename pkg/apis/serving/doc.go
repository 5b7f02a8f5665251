// Package serving holds the names of the Knative Serving API that live
// outside its Go types: the API group and every annotation and label key
// (serving.knative.dev, autoscaling.knative.dev, networking.knative.dev) that
// Flywheel reads or writes. Each key is one typed constant here; no other
// package spells a key as a string.
package serving
