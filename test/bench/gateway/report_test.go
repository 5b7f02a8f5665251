package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/test/bench/internal/benchkit"
)

// TestGoals reads the goals off one run: the gateway's p99 added
// to the sleep app against the direct path, its hello throughput against
// the baseline's, and the activator's path, not measured in this run.
func TestGoals(t *testing.T) {
	level := func(app, v string, okPerSecond int, p99 float64) benchkit.Cell {
		return benchkit.Cell{App: app, Variant: v, Concurrency: goalConcurrency, Attempts: 1, Result: benchkit.LoadResult{
			Seconds: 1, Status: map[int]int{200: okPerSecond},
			Latency: map[string]benchkit.Latency{"ok": {N: okPerSecond, P50: p99 / 2, P99: p99}},
		}}
	}
	res := results{
		Config: runConfig{Variants: []string{"direct", "baseline", "gateway", "gateway+activator"}},
		Runs: []runResult{{Cells: []benchkit.Cell{
			level(benchkit.AppSleep, "direct", 990, 52),
			level(benchkit.AppSleep, "gateway", 985, 52.5),
			level(benchkit.AppHello, "baseline", 10000, 9),
			level(benchkit.AppHello, "gateway", 9000, 10),
		}}},
	}
	want := []benchkit.Goal{
		{Name: "gateway: sleep app p99 added at c=50", Target: "≤ 1 ms", Measured: "+0.50 ms", Verdict: "met"},
		{Name: "gateway+activator: sleep app p99 added at c=50", Target: "≤ 2 ms", Measured: "–", Verdict: benchkit.NotMeasured},
		{Name: "gateway: hello app throughput at c=50 vs baseline", Target: "≥ 1.50×", Measured: "0.90×", Verdict: "**missed** by 0.60× (40% short)"},
		{Name: "tracing every request: hello app proxy CPU per request at c=50 vs gateway", Target: "≤ 1.10×", Measured: "–", Verdict: benchkit.NotMeasured},
	}
	if diff := cmp.Diff(want, res.goals()); diff != "" {
		t.Errorf("goals (-want, +got):\n%s", diff)
	}
}
