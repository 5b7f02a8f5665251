package metrics

import (
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// ColdStartWindow is how far back a Revision's cold starts are kept and
// summed up: the last hour, as `fw service describe` shows them.
const ColdStartWindow = time.Hour

// maxColdStarts bounds the cold starts kept per Revision: a Revision at
// zero between requests starts cold at most every few seconds, so an
// hour's fit with room; beyond it the oldest go first.
const maxColdStarts = 4096

// coldStart is one cold start: when it was reported, and how long the
// request that woke the Revision waited for its response to start.
type coldStart struct {
	at       time.Time
	duration time.Duration
}

// ColdStarts sums up a Revision's cold starts over ColdStartWindow.
type ColdStarts struct {
	Count int
	// P50 and P95 are the medians and 95th percentiles of their
	// durations (nearest rank); zero when Count is.
	P50, P95 time.Duration
}

// RecordColdStarts adds cold starts of the Revision an activator
// reported at now.
func (c *Collector) RecordColdStarts(rev types.NamespacedName, now time.Time, durations []time.Duration) {
	if len(durations) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.series(rev)
	for _, d := range durations {
		s.coldStarts = append(s.coldStarts, coldStart{at: now, duration: d})
	}
	if n := len(s.coldStarts) - maxColdStarts; n > 0 {
		s.coldStarts = slices.Delete(s.coldStarts, 0, n)
	}
}

// ColdStarts sums up the Revision's cold starts of the ColdStartWindow
// before now, and drops older ones.
func (c *Collector) ColdStarts(rev types.NamespacedName, now time.Time) ColdStarts {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.revisions[rev]
	if !ok {
		return ColdStarts{}
	}
	// Kept in the order reported, so the old ones are a prefix.
	first, _ := slices.BinarySearchFunc(s.coldStarts, now.Add(-ColdStartWindow), func(cs coldStart, t time.Time) int {
		return cs.at.Compare(t)
	})
	s.coldStarts = slices.Delete(s.coldStarts, 0, first)
	if len(s.coldStarts) == 0 {
		return ColdStarts{}
	}
	durations := make([]time.Duration, len(s.coldStarts))
	for i, cs := range s.coldStarts {
		durations[i] = cs.duration
	}
	slices.Sort(durations)
	rank := func(p float64) time.Duration {
		// Nearest rank: the smallest duration with p of them at or
		// below it.
		i := int(math.Ceil(float64(len(durations))*p)) - 1
		return durations[max(i, 0)]
	}
	return ColdStarts{Count: len(durations), P50: rank(0.50), P95: rank(0.95)}
}
