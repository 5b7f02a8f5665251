package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCores(t *testing.T) {
	for _, tc := range []struct {
		cpu, wall time.Duration
		want      float64
	}{
		{cpu: 30 * time.Second, wall: 60 * time.Second, want: 0.5},
		{cpu: 90 * time.Second, wall: 60 * time.Second, want: 1.5},
		{cpu: 0, wall: time.Second, want: 0},
	} {
		if got := cores(tc.cpu, tc.wall); got != tc.want {
			t.Errorf("cores(%s, %s) = %v, want %v", tc.cpu, tc.wall, got, tc.want)
		}
	}
	if got := cores(time.Second, 0); !math.IsNaN(got) {
		t.Errorf("cores over no time = %v, want NaN", got)
	}
}

// TestQuantile reads the bucket a quantile falls in: its upper bound, or
// +Inf past the last one.
func TestQuantile(t *testing.T) {
	bounds := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	for _, tc := range []struct {
		name   string
		counts []int64
		q      float64
		want   float64
	}{
		{name: "median in the first bucket", counts: []int64{60, 30, 10, 0}, q: 0.5, want: 1},
		{name: "p99 in the third", counts: []int64{60, 30, 10, 0}, q: 0.99, want: 4},
		{name: "p90 at a bucket's edge", counts: []int64{60, 30, 10, 0}, q: 0.9, want: 2},
		{name: "p99 past the last bound", counts: []int64{90, 0, 0, 10}, q: 0.99, want: math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantile(tc.counts, bounds, tc.q); got != tc.want {
				t.Errorf("quantile(%v, %v) = %v, want %v", tc.counts, tc.q, got, tc.want)
			}
		})
	}
	if got := quantile([]int64{0, 0, 0, 0}, bounds, 0.5); !math.IsNaN(got) {
		t.Errorf("quantile of nothing = %v, want NaN", got)
	}
}

// TestTallySince counts only what happened between two readings.
func TestTallySince(t *testing.T) {
	before := tally{scrapes: 10, scrapeErrors: 1, decisions: 4, changed: 2, latency: []int64{5, 5}}
	after := tally{scrapes: 25, scrapeErrors: 1, decisions: 9, changed: 3, latency: []int64{12, 13}}
	want := tally{scrapes: 15, scrapeErrors: 0, decisions: 5, changed: 1, latency: []int64{7, 8}}
	if diff := cmp.Diff(want, after.since(before), cmp.AllowUnexported(tally{})); diff != "" {
		t.Errorf("since (-want, +got):\n%s", diff)
	}
}
