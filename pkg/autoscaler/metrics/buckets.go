package metrics

import (
	"time"
)

// Buckets sums a figure over one Revision second by second (on the wall
// clock, truncated to the second) and averages it over a window. What is
// recorded for a second adds up: each pod's share, scaled, and the
// activator's.
type Buckets struct {
	// retention is how many seconds are kept: the longest window read.
	retention int64
	// sums is a ring of the latest seconds, second s at sums[s%retention]
	// when secs[s%retention] == s.
	sums []float64
	secs []int64
	// first is the first second anything was recorded for; averages do
	// not count the seconds before it as idle.
	first int64
	any   bool
}

// NewBuckets keeps retention of seconds (at least 1 s).
func NewBuckets(retention time.Duration) *Buckets {
	n := max(int64(retention/time.Second), 1)
	return &Buckets{retention: n, sums: make([]float64, n), secs: make([]int64, n)}
}

// Record adds value to each of the n seconds that end at end: a report
// that covers n seconds with an average spreads it over all of them.
// Reporters count their seconds from when they started, not on the
// wall clock's boundaries; each of their seconds goes to the wall-clock
// second that holds its middle.
func (b *Buckets) Record(end time.Time, n int, value float64) {
	last := end.Add(-time.Second / 2).Unix()
	for s := last - int64(n) + 1; s <= last; s++ {
		b.add(s, value)
	}
}

func (b *Buckets) add(sec int64, value float64) {
	i := sec % b.retention
	if b.secs[i] != sec {
		b.secs[i], b.sums[i] = sec, 0
	}
	b.sums[i] += value
	if !b.any || sec < b.first {
		b.first, b.any = sec, true
	}
}

// Average returns the average of the seconds in the window that ends
// just before now's second, counting seconds with nothing recorded as 0
// but not those before the first record; false when nothing was
// recorded in the window.
func (b *Buckets) Average(now time.Time, window time.Duration) (float64, bool) {
	if !b.any {
		return 0, false
	}
	last := now.Unix() - 1
	n := min(max(int64(window/time.Second), 1), b.retention)
	from := max(last-n+1, b.first)
	if from > last {
		return 0, false
	}
	var sum float64
	seen := false
	for s := from; s <= last; s++ {
		i := s % b.retention
		if b.secs[i] == s {
			sum += b.sums[i]
			seen = true
		}
	}
	if !seen {
		return 0, false
	}
	return sum / float64(last-from+1), true
}
