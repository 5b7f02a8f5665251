package stats

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Kind sorts requests into those the autoscaler scales for and those it
// must ignore.
type Kind uint8

const (
	// Proxied is a request a user sent, on its way to the app.
	Proxied Kind = iota
	// ProxiedViaActivator is a Proxied request that the activator
	// forwarded. The activator counts it too, for its whole life waiting
	// included, and reports it for the Revision; the autoscaler takes it
	// from there and leaves it out of the pod's share, so that it is not
	// counted twice.
	ProxiedViaActivator
	// Probe is a network or kubelet probe: it says nothing about demand,
	// and a pod at rest receives them all the time.
	Probe

	numKinds
)

// String returns the kind as it appears in metric labels.
func (k Kind) String() string {
	switch k {
	case Proxied:
		return "proxied"
	case ProxiedViaActivator:
		return "proxied-via-activator"
	case Probe:
		return "probe"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// retained is how many completed seconds a Tracker keeps: the autoscaler's
// stable window, so a scraper that lost contact for less than that still
// gets every second it missed.
const retained = 60

// second is what a Tracker accumulates over one second of its clock.
type second struct {
	// area is the integral of the in-flight count over the second, in
	// request-nanoseconds: one request for 250ms adds 250ms.
	area [numKinds]time.Duration
	// arrivals counts the requests that arrived in the second.
	arrivals [numKinds]int64
}

// Tracker records request arrivals and departures and sums them into
// one-second buckets. Its seconds are counted from its creation, so bucket
// k covers [start+k s, start+(k+1) s) on the clock's monotonic reading and
// a wall-clock step cannot stretch or shrink one.
//
// Nothing runs in the background: a bucket closes when the first event or
// read after its end arrives, and idle seconds in between are filled in
// then, at the in-flight count that held throughout them.
type Tracker struct {
	clk clock.PassiveClock
	// start is when second 0 began, with its monotonic reading, for
	// measuring; wallStart is the same instant without it, for reporting
	// and for comparing with times that come back from scrapers.
	start     time.Time
	wallStart time.Time

	// One mutex, not atomics: the integral needs the in-flight count and
	// the time it last changed to move together, which separate atomics
	// cannot promise. The critical sections are a few additions long
	// (BenchmarkTrackerInOut).
	mu       sync.Mutex
	inFlight [numKinds]int64
	// last is the offset from start up to which the open second's area
	// is accumulated.
	last time.Duration
	// cur is the index of the open second; seconds before it are
	// complete, and the latest `retained` of them are in done, second k at
	// done[k%retained].
	cur  int64
	open second
	done [retained]second
	// total counts arrivals since start, for Prometheus counters.
	total [numKinds]int64
}

// NewTracker returns a Tracker whose first second starts now on clk.
func NewTracker(clk clock.PassiveClock) *Tracker {
	now := clk.Now()
	return &Tracker{clk: clk, start: now, wallStart: now.Round(0)}
}

// NewWallClockTracker returns a Tracker whose seconds are the wall
// clock's: its first began at the last whole second, so each second it
// completes is complete the moment the wall clock's is, and a report sent
// just after a wall-clock second ends carries that very second.
func NewWallClockTracker(clk clock.PassiveClock) *Tracker {
	now := clk.Now()
	// Subtracting keeps the monotonic reading, which Truncate would drop.
	start := now.Add(-time.Duration(now.Nanosecond()))
	return &Tracker{clk: clk, start: start, wallStart: start.Round(0)}
}

// UntilAfterBoundary returns how long from now until delay past the next
// multiple of interval on the wall clock: when to come for the second
// that wall-clock trackers (NewWallClockTracker) are about to complete,
// once they have. Each wait is measured afresh from the clock, so a
// reader that waits this way every time never drifts off the boundaries.
func UntilAfterBoundary(now time.Time, interval, delay time.Duration) time.Duration {
	return now.Truncate(interval).Add(interval + delay).Sub(now)
}

// In records the arrival of a request of kind k. Every In must be
// followed by an Out of the same kind once the request is over.
func (t *Tracker) In(k Kind) {
	// Reading the clock outside the lock keeps the critical section short;
	// advance copes with a goroutine that read it earlier but locked later.
	now := t.clk.Since(t.start)
	t.mu.Lock()
	t.advance(now)
	t.inFlight[k]++
	t.open.arrivals[k]++
	t.total[k]++
	t.mu.Unlock()
}

// Out records the end of a request of kind k.
func (t *Tracker) Out(k Kind) {
	now := t.clk.Since(t.start)
	t.mu.Lock()
	t.advance(now)
	t.inFlight[k]--
	if t.inFlight[k] < 0 {
		t.inFlight[k] = 0
		t.mu.Unlock()
		panic("stats: Out(" + k.String() + ") without In")
	}
	t.mu.Unlock()
}

// advance accumulates area up to now (an offset from start), closing every
// second that ended on the way. t.mu must be held.
func (t *Tracker) advance(now time.Duration) {
	// A goroutine that read the clock before another but took the lock
	// after it must not run time backwards; counting it at last errs by
	// the time it waited for the lock.
	now = max(now, t.last)
	sec := int64(now / time.Second)
	for t.cur < sec {
		end := time.Duration(t.cur+1) * time.Second
		t.accrue(end)
		t.done[t.cur%retained] = t.open
		t.open = second{}
		t.cur++
		// Seconds that would leave the ring before anyone could read
		// them need not be written: after a long idle spell only the
		// latest `retained` are filled in.
		if skip := sec - retained; t.cur < skip {
			t.cur = skip
			t.last = time.Duration(skip) * time.Second
		}
	}
	t.accrue(now)
}

// accrue adds the area from last to now, over which the in-flight counts
// did not change.
func (t *Tracker) accrue(now time.Duration) {
	d := now - t.last
	for k := range numKinds {
		t.open.area[k] += time.Duration(t.inFlight[k]) * d
	}
	t.last = now
}

// Window is what a Tracker measured over one or more consecutive complete
// seconds.
type Window struct {
	// End is the end of the last second covered, on the wall clock; for
	// an empty window, the end of the latest complete second, or the
	// Tracker's start when none has completed.
	End time.Time
	// Seconds is how many seconds the window covers; 0 means there was
	// nothing complete to report and every other figure is 0.
	Seconds int
	// AverageConcurrency is the time-weighted average of the number of
	// requests in flight, probes included, over the window.
	AverageConcurrency float64
	// AverageProxiedConcurrency is the same for proxied requests only,
	// those the activator forwarded included.
	AverageProxiedConcurrency float64
	// AverageActivatorConcurrency is the part of AverageProxiedConcurrency
	// that the activator forwarded, which it reports itself.
	AverageActivatorConcurrency float64
	// AverageProbeConcurrency is the same for probes; it is computed
	// apart rather than as the difference of the two above, which
	// rounding could make slightly negative.
	AverageProbeConcurrency float64
	// ProxiedRequests and ProbeRequests count the requests of each kind
	// that arrived in the window; ActivatorRequests counts those of the
	// proxied ones that the activator forwarded.
	ProxiedRequests   int64
	ActivatorRequests int64
	ProbeRequests     int64
}

// LastSecond returns the latest complete second.
func (t *Tracker) LastSecond() Window {
	now := t.clk.Since(t.start)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(now)
	return t.window(t.cur - 1)
}

// Since returns every complete second that ended after since, or as many
// of them as the Tracker retains (the latest 60). A scraper that passes
// the End of its previous Window gets exactly the seconds it has not seen,
// however late or early it comes back.
func (t *Tracker) Since(since time.Time) Window {
	// Seconds are compared on the wall clock, as since comes from
	// outside the process, typically as text.
	first := int64(0)
	if off := since.Sub(t.wallStart); off > 0 {
		// Second k ends at (k+1) s, which is after off for every k from
		// off/1s on, whether or not off falls on a boundary.
		first = int64(off / time.Second)
	}
	now := t.clk.Since(t.start)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(now)
	return t.window(first)
}

// window sums the retained complete seconds from first on. t.mu must be
// held.
func (t *Tracker) window(first int64) Window {
	first = max(first, t.cur-retained, 0)
	w := Window{End: t.wallStart.Add(time.Duration(t.cur) * time.Second)}
	if first >= t.cur {
		return w
	}
	var area [numKinds]time.Duration
	for k := first; k < t.cur; k++ {
		s := &t.done[k%retained]
		for kind := range numKinds {
			area[kind] += s.area[kind]
		}
		w.ProxiedRequests += s.arrivals[Proxied] + s.arrivals[ProxiedViaActivator]
		w.ActivatorRequests += s.arrivals[ProxiedViaActivator]
		w.ProbeRequests += s.arrivals[Probe]
	}
	w.Seconds = int(t.cur - first)
	span := float64(time.Duration(w.Seconds) * time.Second)
	proxied := area[Proxied] + area[ProxiedViaActivator]
	w.AverageConcurrency = float64(proxied+area[Probe]) / span
	w.AverageProxiedConcurrency = float64(proxied) / span
	w.AverageActivatorConcurrency = float64(area[ProxiedViaActivator]) / span
	w.AverageProbeConcurrency = float64(area[Probe]) / span
	return w
}

// Snapshot is a Tracker's state at one instant, what a metrics scrape
// reports.
type Snapshot struct {
	// InFlightProxied and InFlightProbe are the requests of each kind in
	// flight now.
	InFlightProxied int64
	InFlightProbe   int64
	// ProxiedRequests and ProbeRequests count the requests of each kind
	// that arrived since the Tracker started.
	ProxiedRequests int64
	ProbeRequests   int64
	// LastSecond is the latest complete second.
	LastSecond Window
}

// Snapshot returns the Tracker's state now, read under one lock so that
// its figures agree with each other.
func (t *Tracker) Snapshot() Snapshot {
	now := t.clk.Since(t.start)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(now)
	return Snapshot{
		InFlightProxied: t.inFlight[Proxied] + t.inFlight[ProxiedViaActivator],
		InFlightProbe:   t.inFlight[Probe],
		ProxiedRequests: t.total[Proxied] + t.total[ProxiedViaActivator],
		ProbeRequests:   t.total[Probe],
		LastSecond:      t.window(t.cur - 1),
	}
}
