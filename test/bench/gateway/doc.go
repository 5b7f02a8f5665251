// Command gateway benchmarks the built-in gateway (pkg/gateway) against
// the app served directly and against the baseline reverse proxy of the
// sidecar benchmark, in one run on one machine.
//
// One binary plays every part but the gateway, so that each can be
// pinned with taskset:
//
//	gateway app       a test app: "hello" (tiny body) or "sleep" (fixed latency)
//	gateway baseline  a plain httputil.ReverseProxy with an in-flight counter
//	gateway load      a closed-loop load generator that prints JSON
//	gateway run       the harness: starts the others, measures, reports
//
// The gateway is ./fakegateway, which serves one HTTPRoute from fake
// clientsets that hold it as the API server would: no cluster is
// involved. It is a binary of its own so that the Kubernetes packages it
// links stay out of the app's and the baseline's memory and GC; the app,
// the baseline and the load generator are the sidecar benchmark's code.
// The app and the proxies in front of it share one core; the load
// generator gets another. hack/bench-gateway.sh builds both programs and
// runs the harness; docs/benchmarks.md holds the figures and the goals
// they are read against. The parts shared with the sidecar benchmark
// live in test/bench/internal/benchkit.
package main
