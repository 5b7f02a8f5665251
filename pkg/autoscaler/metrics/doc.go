// Package metrics turns the load reports of a Revision's sidecars and of
// the activator into the figures the decider and the custom metrics API
// read: per-second sums over the Revision, averaged over a window. A
// Revision with many pods is measured on a sample of them, sized so that
// the estimate stays close (SampleSize), and the sample's sum is scaled to
// all ready pods.
package metrics
