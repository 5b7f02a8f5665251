package stats

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

var start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// newTracker returns a Tracker whose second 0 begins at start on a fake
// clock the test moves.
func newTracker(t *testing.T) (*Tracker, *clocktesting.FakePassiveClock) {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(start)
	return NewTracker(clk), clk
}

// at moves clk to start+d.
func at(clk *clocktesting.FakePassiveClock, d time.Duration) { clk.SetTime(start.Add(d)) }

const ms = time.Millisecond

func TestTimeWeightedAverage(t *testing.T) {
	// Each row is a sequence of events on the fake clock, then the time at
	// which the latest complete second is read.
	type event struct {
		at   time.Duration
		in   bool
		kind Kind
	}
	in := func(d time.Duration, k Kind) event { return event{at: d, in: true, kind: k} }
	out := func(d time.Duration, k Kind) event { return event{at: d, kind: k} }

	tests := []struct {
		name   string
		events []event
		readAt time.Duration
		want   Window
	}{{
		name:   "no requests",
		readAt: 1 * time.Second,
		want:   Window{End: start.Add(time.Second), Seconds: 1},
	}, {
		name:   "one request for a quarter of the second",
		events: []event{in(500*ms, Proxied), out(750*ms, Proxied)},
		readAt: 1 * time.Second,
		want: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 0.25, AverageProxiedConcurrency: 0.25, ProxiedRequests: 1},
	}, {
		name: "two overlapping requests",
		// 500ms and 600ms of in-flight time: 1.1 on average, though a
		// sample at any instant would see 0, 1 or 2.
		events: []event{in(100*ms, Proxied), in(300*ms, Proxied), out(600*ms, Proxied), out(900*ms, Proxied)},
		readAt: 1500 * ms,
		want: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 1.1, AverageProxiedConcurrency: 1.1, ProxiedRequests: 2},
	}, {
		name:   "a request still in flight fills the second",
		events: []event{in(0, Proxied)},
		readAt: 1 * time.Second,
		want: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 1, AverageProxiedConcurrency: 1, ProxiedRequests: 1},
	}, {
		name:   "many short requests",
		events: []event{in(0, Proxied), out(100*ms, Proxied), in(200*ms, Proxied), out(300*ms, Proxied), in(400*ms, Proxied), out(500*ms, Proxied)},
		readAt: 1 * time.Second,
		want: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 0.3, AverageProxiedConcurrency: 0.3, ProxiedRequests: 3},
	}, {
		name:   "probes are counted apart and left out of proxied concurrency",
		events: []event{in(0, Proxied), in(250*ms, Probe), out(500*ms, Probe), out(500*ms, Proxied), in(600*ms, Probe), out(850*ms, Probe)},
		readAt: 1 * time.Second,
		want: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 1, AverageProxiedConcurrency: 0.5, AverageProbeConcurrency: 0.5,
			ProxiedRequests: 1, ProbeRequests: 2},
	}, {
		name: "requests the activator forwarded are proxied, and counted apart too",
		events: []event{in(0, Proxied), in(0, ProxiedViaActivator), in(250*ms, ProxiedViaActivator),
			out(500*ms, ProxiedViaActivator), out(500*ms, Proxied)},
		readAt: 1 * time.Second,
		want: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 1.75, AverageProxiedConcurrency: 1.75, AverageActivatorConcurrency: 1.25,
			ProxiedRequests: 3, ActivatorRequests: 2},
	}, {
		name:   "an idle second after a busy one is 0",
		events: []event{in(0, Proxied), out(500*ms, Proxied)},
		readAt: 2 * time.Second,
		want:   Window{End: start.Add(2 * time.Second), Seconds: 1},
	}, {
		name:   "a long request counts in every second it spans, but arrives once",
		events: []event{in(500*ms, Proxied), out(3250*ms, Proxied)},
		readAt: 3 * time.Second,
		want: Window{End: start.Add(3 * time.Second), Seconds: 1,
			AverageConcurrency: 1, AverageProxiedConcurrency: 1},
	}, {
		name:   "the open second is not reported",
		events: []event{in(1100*ms, Proxied)},
		readAt: 1900 * ms,
		want:   Window{End: start.Add(time.Second), Seconds: 1},
	}, {
		name:   "nothing before the first second completes",
		events: []event{in(100*ms, Proxied)},
		readAt: 900 * ms,
		want:   Window{End: start},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, clk := newTracker(t)
			for _, e := range tc.events {
				at(clk, e.at)
				if e.in {
					tr.In(e.kind)
				} else {
					tr.Out(e.kind)
				}
			}
			at(clk, tc.readAt)
			if diff := cmp.Diff(tc.want, tr.LastSecond()); diff != "" {
				t.Errorf("LastSecond (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestEverySecondOfALongRequest(t *testing.T) {
	tr, clk := newTracker(t)
	at(clk, 500*ms)
	tr.In(Proxied)
	var got []Window
	for s := 1; s <= 5; s++ {
		if s == 4 {
			at(clk, 3250*ms)
			tr.Out(Proxied)
		}
		at(clk, time.Duration(s)*time.Second)
		got = append(got, tr.LastSecond())
	}
	second := func(end int, avg float64, arrivals int64) Window {
		return Window{End: start.Add(time.Duration(end) * time.Second), Seconds: 1,
			AverageConcurrency: avg, AverageProxiedConcurrency: avg, ProxiedRequests: arrivals}
	}
	want := []Window{second(1, 0.5, 1), second(2, 1, 0), second(3, 1, 0), second(4, 0.25, 0), second(5, 0, 0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("seconds 0 to 4 (-want, +got):\n%s", diff)
	}
}

func TestSince(t *testing.T) {
	// One request of 500ms in each of seconds 0 to 3, read at 4.5s.
	busy := func(t *testing.T) *Tracker {
		tr, clk := newTracker(t)
		for s := range 4 {
			at(clk, time.Duration(s)*time.Second)
			tr.In(Proxied)
			at(clk, time.Duration(s)*time.Second+500*ms)
			tr.Out(Proxied)
		}
		at(clk, 4500*ms)
		return tr
	}
	end := start.Add(4 * time.Second)
	tests := []struct {
		name  string
		since time.Time
		want  Window
	}{{
		name:  "the end of an earlier report gives the seconds after it",
		since: start.Add(time.Second),
		want: Window{End: end, Seconds: 3,
			AverageConcurrency: 0.5, AverageProxiedConcurrency: 0.5, ProxiedRequests: 3},
	}, {
		name:  "a time within a second includes that second",
		since: start.Add(2500 * ms),
		want: Window{End: end, Seconds: 2,
			AverageConcurrency: 0.5, AverageProxiedConcurrency: 0.5, ProxiedRequests: 2},
	}, {
		name:  "the end of the latest second gives nothing new",
		since: end,
		want:  Window{End: end},
	}, {
		name:  "a time in the future gives nothing",
		since: end.Add(time.Hour),
		want:  Window{End: end},
	}, {
		name:  "a time before the tracker started gives every second",
		since: start.Add(-time.Hour),
		want: Window{End: end, Seconds: 4,
			AverageConcurrency: 0.5, AverageProxiedConcurrency: 0.5, ProxiedRequests: 4},
	}, {
		name:  "the zero time gives every second",
		since: time.Time{},
		want: Window{End: end, Seconds: 4,
			AverageConcurrency: 0.5, AverageProxiedConcurrency: 0.5, ProxiedRequests: 4},
	}, {
		name:  "a time in another zone means the same instant",
		since: start.Add(3 * time.Second).In(time.FixedZone("UTC+2", 2*60*60)),
		want: Window{End: end, Seconds: 1,
			AverageConcurrency: 0.5, AverageProxiedConcurrency: 0.5, ProxiedRequests: 1},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, busy(t).Since(tc.since)); diff != "" {
				t.Errorf("Since(%v) (-want, +got):\n%s", tc.since, diff)
			}
		})
	}
}

func TestSinceKeepsTheLatestMinute(t *testing.T) {
	tr, clk := newTracker(t)
	tr.In(Proxied)
	// An hour with one request in flight and nothing happening: the
	// seconds are filled in when read, but only the latest 60 are kept.
	at(clk, time.Hour+250*ms)
	want := Window{End: start.Add(time.Hour), Seconds: retained,
		AverageConcurrency: 1, AverageProxiedConcurrency: 1}
	if diff := cmp.Diff(want, tr.Since(start)); diff != "" {
		t.Errorf("Since(start) (-want, +got):\n%s", diff)
	}
	// The open second still counts from where the idle spell left it.
	tr.Out(Proxied)
	at(clk, time.Hour+time.Second)
	want = Window{End: start.Add(time.Hour + time.Second), Seconds: 1,
		AverageConcurrency: 0.25, AverageProxiedConcurrency: 0.25}
	if diff := cmp.Diff(want, tr.LastSecond()); diff != "" {
		t.Errorf("LastSecond after the idle spell (-want, +got):\n%s", diff)
	}
}

func TestScraperSeesEverySecondOnce(t *testing.T) {
	// A scraper that passes back the End of each Window gets every
	// second exactly once, whether it comes back late, early or twice
	// within a second.
	tr, clk := newTracker(t)
	tr.In(Proxied)
	var (
		since   time.Time
		seconds int
	)
	for _, d := range []time.Duration{1100 * ms, 1900 * ms, 4200 * ms, 4300 * ms, 5 * time.Second, 9999 * ms} {
		at(clk, d)
		w := tr.Since(since)
		seconds += w.Seconds
		since = w.End
	}
	if seconds != 9 {
		t.Errorf("the scraper saw %d seconds in all, want 9", seconds)
	}
}

func TestSnapshot(t *testing.T) {
	tr, clk := newTracker(t)
	tr.In(Proxied)
	tr.In(Proxied)
	tr.In(Probe)
	at(clk, 500*ms)
	tr.Out(Proxied)
	at(clk, 1200*ms)
	tr.In(Proxied)
	tr.In(ProxiedViaActivator)
	want := Snapshot{
		InFlightProxied: 3,
		InFlightProbe:   1,
		ProxiedRequests: 4,
		ProbeRequests:   1,
		LastSecond: Window{End: start.Add(time.Second), Seconds: 1,
			AverageConcurrency: 2.5, AverageProxiedConcurrency: 1.5, AverageProbeConcurrency: 1,
			ProxiedRequests: 2, ProbeRequests: 1},
	}
	if diff := cmp.Diff(want, tr.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want, +got):\n%s", diff)
	}
}

func TestClockReadBeforeTheLockDoesNotRunTimeBackwards(t *testing.T) {
	tr, _ := newTracker(t)
	tr.In(Proxied)
	// As if one goroutine advanced to 800ms and another, which read the
	// clock at 600ms, took the lock after it.
	tr.mu.Lock()
	tr.advance(800 * ms)
	tr.advance(600 * ms)
	tr.advance(time.Second)
	got := tr.window(0)
	tr.mu.Unlock()
	if got.AverageConcurrency != 1 {
		t.Errorf("AverageConcurrency = %v, want 1: the late reading must add nothing, not subtract", got.AverageConcurrency)
	}
}

func TestOutWithoutInPanics(t *testing.T) {
	tr, _ := newTracker(t)
	defer func() {
		if recover() == nil {
			t.Error("Out without In did not panic")
		}
		// The lock must have been released, or every later request
		// would hang.
		tr.In(Proxied)
		if got := tr.Snapshot().InFlightProxied; got != 1 {
			t.Errorf("in flight after the panic and one In = %d, want 1", got)
		}
	}()
	tr.Out(Proxied)
}

func TestConcurrentInOut(t *testing.T) {
	tr := NewTracker(clock.RealClock{})
	const goroutines, each = 15, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			k := Kind(g % int(numKinds))
			for range each {
				tr.In(k)
				_ = tr.Snapshot()
				tr.Out(k)
			}
		})
	}
	wg.Wait()
	got := tr.Snapshot()
	got.LastSecond = Window{}
	// A third of the goroutines per kind; the proxied count includes
	// those the activator forwarded.
	perKind := goroutines / int64(numKinds) * each
	want := Snapshot{ProxiedRequests: 2 * perKind, ProbeRequests: perKind}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after every request ended (-want, +got):\n%s", diff)
	}
}

func TestKindString(t *testing.T) {
	got := []string{Proxied.String(), ProxiedViaActivator.String(), Probe.String(), Kind(7).String()}
	if diff := cmp.Diff([]string{"proxied", "proxied-via-activator", "probe", "Kind(7)"}, got); diff != "" {
		t.Errorf("Kind.String (-want, +got):\n%s", diff)
	}
}

// BenchmarkTrackerInOut measures the cost a request pays on the hot path:
// one In and one Out, with every CPU doing the same at once.
func BenchmarkTrackerInOut(b *testing.B) {
	tr := NewTracker(clock.RealClock{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.In(Proxied)
			tr.Out(Proxied)
		}
	})
}

func TestWallClockTrackerCountsTheWallClocksSeconds(t *testing.T) {
	// Created 300 ms into a second: its first second is the wall
	// clock's, begun before it.
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 11, 30, 12, 0, 10, 300_000_000, time.UTC))
	tr := NewWallClockTracker(clk)
	clk.SetTime(clk.Now().Add(200 * time.Millisecond)) // 10.5 s
	tr.In(Proxied)
	clk.SetTime(clk.Now().Add(400 * time.Millisecond)) // 10.9 s
	tr.Out(Proxied)
	clk.SetTime(clk.Now().Add(110 * time.Millisecond)) // 11.01 s, as the activator reports
	w := tr.LastSecond()
	wantEnd := time.Date(2026, 11, 30, 12, 0, 11, 0, time.UTC)
	if !w.End.Equal(wantEnd) || w.Seconds != 1 {
		t.Fatalf("LastSecond = %d s ending %v, want the second ending %v", w.Seconds, w.End, wantEnd)
	}
	if w.ProxiedRequests != 1 || math.Abs(w.AverageProxiedConcurrency-0.4) > 1e-9 {
		t.Errorf("LastSecond = %d requests at %.3f, want 1 at 0.4 (400 ms of one request)", w.ProxiedRequests, w.AverageProxiedConcurrency)
	}
}
