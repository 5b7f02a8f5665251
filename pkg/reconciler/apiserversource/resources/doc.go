// Package resources builds what an ApiServerSource owns and configures:
// its adapter's Config and the Deployment that runs the adapter. The
// builders are pure: the reconciler resolves the kinds, namespaces and
// sink first.
package resources
