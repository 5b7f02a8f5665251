// Command queue benchmarks the queue-proxy sidecar against the app served
// directly and against a baseline reverse proxy, in one run on one machine.
//
// One binary plays every part, so that each can be pinned with taskset:
//
//	queue app       a test app: "hello" (tiny body) or "sleep" (fixed latency)
//	queue baseline  a plain httputil.ReverseProxy with an in-flight counter
//	queue load      a closed-loop load generator that prints JSON
//	queue run       the harness: starts the others, measures, reports
//
// The app and the proxy in front of it share one core, as a 1-CPU pod
// would; the load generator gets another. hack/bench-queue.sh builds the
// sidecar and this program and runs the harness; docs/benchmarks.md holds
// the figures and the goals they are read against. The parts shared with
// the gateway benchmark live in test/bench/internal/benchkit.
package main
