package metrics

import (
	"time"
)

// Buckets sums a figure over one Revision second by second (on the wall
// clock, truncated to the second) and averages it over a window. What is
// recorded for a second adds up: each pod's share, scaled, and the
// activator's.
type Buckets struct {
	// most is how many seconds may be kept: the longest window allowed.
	most int64
	// retention is how many seconds are kept now: the longest window
	// read so far, at least initialSeconds and at most most. The ring
	// starts at that and grows when a longer window is read, so that a
	// Revision on the default window does not hold an hour of seconds.
	retention int64
	// sums is a ring of the latest seconds, second s at sums[s%retention]
	// when secs[s%retention] == s.
	sums []float64
	secs []int64
	// first is the first second anything was recorded for, or the first
	// the ring still held when it grew; averages do not count the
	// seconds before it as idle.
	first int64
	any   bool
}

// initialSeconds is the ring's first size: config-autoscaler's default
// stable window, the longest window most Revisions ever read.
const initialSeconds = 60

// NewBuckets keeps up to most of the latest seconds (at least 1 s), as
// many as the longest window read asks for.
func NewBuckets(most time.Duration) *Buckets {
	m := max(int64(most/time.Second), 1)
	n := min(m, initialSeconds)
	return &Buckets{most: m, retention: n, sums: make([]float64, n), secs: make([]int64, n)}
}

// Record adds value to each of the n seconds that end at end: a report
// that covers n seconds with an average spreads it over all of them.
// Reporters count the wall clock's seconds as their clocks read it; each
// of their seconds goes to the wall-clock second that holds its middle,
// so a reporter whose clock is a little off still lands on the second
// it meant.
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
	n := min(max(int64(window/time.Second), 1), b.most)
	if n > b.retention {
		b.grow(n, last)
	}
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

// grow makes the ring hold n seconds, keeping those it holds up to last.
// The seconds before those were never kept: they count as not recorded,
// not as idle, until the ring has filled.
func (b *Buckets) grow(n, last int64) {
	sums, secs := make([]float64, n), make([]int64, n)
	oldest := last - b.retention + 1
	for i, sec := range b.secs {
		// A slot not written since its second left the ring holds a
		// second older than any kept.
		if sec >= oldest {
			secs[sec%n], sums[sec%n] = sec, b.sums[i]
		}
	}
	b.sums, b.secs, b.retention = sums, secs, n
	b.first = max(b.first, oldest)
}
