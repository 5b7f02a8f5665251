// Command autoscaling benchmarks scaling on a local cluster, as
// docs/benchmarks.md reports it:
//
//	autoscaling run   brings the local cluster up (local.Up, as fw local
//	                  up does) and measures cold starts (a request at the
//	                  gateway for a Revision at zero → its first byte) and
//	                  load steps (50 clients on an idle 50 ms Revision →
//	                  the first scale decision, and → new pods ready)
//
// Run it through hack/bench-autoscaling.sh. It needs root and no other
// local cluster on the host.
package main
