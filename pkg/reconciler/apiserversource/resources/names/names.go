// Package names gives the names of the objects an ApiServerSource owns,
// so that every reconciler that looks one up spells it the same way.
package names

import "knative.dev/pkg/kmeta"

// Deployment is the name of the source's adapter Deployment: the
// source's own with a suffix, so that `kubectl get deployments` shows
// which source each adapter serves.
func Deployment(source string) string { return kmeta.ChildName(source, "-apiserversource") }
