// Package reconciler runs Flywheel's controllers: the reconcilers of the
// Knative Serving types, each in its own sub-package, wired into one
// process by Main.
package reconciler
