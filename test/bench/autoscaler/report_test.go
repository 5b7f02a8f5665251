package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/test/bench/internal/benchkit"
)

// TestGoals reads the autoscaler's side, not the sidecars', against the
// issue's targets, and says when the run was not at 1,000 Revisions.
func TestGoals(t *testing.T) {
	res := results{
		Config:     runConfig{fleet: fleet{Revisions: 1000, Pods: 3}},
		Autoscaler: procUsage{Cores: 0.62, PeakRSSMiB: 310.4},
		Sidecars:   procUsage{Cores: 0.1, PeakRSSMiB: 900},
	}
	want := []benchkit.Goal{
		{Name: "autoscaler CPU, 1000 Revisions × 3 pods", Target: "≤ 0.5 core", Measured: "0.620 cores", Verdict: "**missed** by 0.12 cores (24% over)"},
		{Name: "autoscaler memory (peak RSS), 1000 Revisions × 3 pods", Target: "≤ 500 MiB", Measured: "310.4 MiB", Verdict: "met"},
	}
	if diff := cmp.Diff(want, res.goals()); diff != "" {
		t.Errorf("goals (-want, +got):\n%s", diff)
	}

	res.Config.Revisions = 100
	if g := res.goals()[0]; !strings.Contains(g.Name, "the goals are for 1,000 Revisions") {
		t.Errorf("goal at 100 Revisions is named %q, want it to say the goals are for 1,000", g.Name)
	}
}

// TestMarkdownRates divides the window's counts by its length and sets
// them beside what the tickers promise.
func TestMarkdownRates(t *testing.T) {
	res := results{
		Config:  runConfig{fleet: fleet{Revisions: 1000, Pods: 3}},
		Seconds: 60, Scrapes: 179_400, Decisions: 59_400, ScrapeErrors: 6,
		ScrapeP50: latencyText(0.5), ScrapeP99: latencyText(quantile([]int64{0, 1}, latencyBounds[:1], 0.99)),
	}
	md := res.markdown()
	for _, row := range []string{
		"| scrapes (one pod each) | 2990.0 | 3000.0 |",
		"| scrape errors | 0.10 (6 in all) | 0 |",
		"| decisions | 990.0 | 1000.0 |",
		"p50 ≤ 0.5 ms, p99 > 1000 ms (timed out)",
	} {
		if !strings.Contains(md, row) {
			t.Errorf("the report lacks %q:\n%s", row, md)
		}
	}
}
