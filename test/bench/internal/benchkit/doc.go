// Package benchkit is what the data-plane benchmarks under test/bench
// share: the test apps, the baseline reverse proxy, the closed-loop load
// generator, CPU and memory accounting from /proc, the process
// supervisor that pins each part to a core, and the figures and medians
// their reports are made of.
//
// A benchmark is one binary that plays every part (Parts) plus its own
// proxies and a `run` harness that starts them as separate processes,
// so that each can be pinned with taskset and measured alone.
package benchkit
