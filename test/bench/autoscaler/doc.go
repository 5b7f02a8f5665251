// Command autoscaler benchmarks the autoscaler's data path at scale: the
// CPU and memory it needs to scrape and decide for many Revisions (by
// default 1,000) whose pods' sidecars are simulated.
//
//	autoscaler run       the harness: starts the simulated sidecars, runs
//	                     the autoscaler's data path in its own process
//	                     and measures that process, then reports
//	autoscaler sidecars  the simulated sidecars, a process of their own
//
// What runs is what grows with the number of Revisions in the real
// autoscaler (pkg/autoscaler/server): autoscaler.Revisions with one loop
// per Revision, each scraping a sample of its ready pods every second
// through metrics.Scrape with the server's HTTP client into a
// metrics.Collector, and deciding every two seconds with the built-in
// class's decider on config-autoscaler's defaults. The Kubernetes side of
// the process (informers, the PodAutoscaler reconciler, leader election,
// the custom metrics API) is left out: the pods' addresses come from a
// fixed list and a changed decision is only counted, where the real
// process would list pods from an informer and enqueue the
// PodAutoscaler.
//
// Each Revision has --pods pods (3 by default: a typical small Revision,
// all of whose pods the scraper samples; --pods 10 still samples all ten,
// larger counts a share). Each pod is a real stats.Tracker served by the
// real stats.ReportHandler at queue.StatsPath, so the answers are the
// sidecar's own JSON and honour `since` as it does, on an address of its
// own in 127.100.0.0/16 at queue.MetricsPort: Linux routes all of
// 127.0.0.0/8 to lo, and the scraper dials a pod as it would a real one.
// The sidecars' process feeds each tracker requests that last a quarter
// of a second, as many at a time as a per-Revision curve says (some
// Revisions idle, the others' concurrency swinging slowly, each pod out of
// phase with its siblings), plus a probe a second.
//
// The harness measures itself (the autoscaler's side) and the sidecars'
// process apart, over a window after a warm-up: CPU from /proc/<pid>/stat
// in cores, peak and final RSS, the Go heap, goroutines, scrapes and
// decisions per second. hack/bench-autoscaler.sh builds and runs it;
// docs/benchmarks.md holds the figures and the goals they are read
// against (≤ 0.5 core, ≤ 500 MiB at 1,000 Revisions).
package main
