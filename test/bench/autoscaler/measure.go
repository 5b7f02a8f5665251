package main

import (
	"context"
	"math"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/autoscaler/scaling"
	"flywheel.dev/test/bench/internal/benchkit"
)

// latencyBounds are the upper bounds of the scrape latency buckets,
// doubling from 0.25 ms to 1 s, the scrape's timeout; a last bucket takes
// the rest.
var latencyBounds = func() []time.Duration {
	var b []time.Duration
	for d := 250 * time.Microsecond; d <= time.Second; d *= 2 {
		b = append(b, d)
	}
	return append(b, time.Second)
}()

// counters count the data path's work as it happens. A histogram of
// fixed buckets keeps the latencies: a slice of every one would grow the
// very heap being measured.
type counters struct {
	scrapes, scrapeErrors atomic.Int64
	decisions, changed    atomic.Int64
	latency               [16]atomic.Int64
	maxLatency            atomic.Int64
	// firstErr is the first scrape error's text.
	firstErr atomic.Pointer[string]
}

func (c *counters) scraped(took time.Duration, err error) {
	c.scrapes.Add(1)
	if err != nil {
		c.scrapeErrors.Add(1)
		s := err.Error()
		c.firstErr.CompareAndSwap(nil, &s)
	}
	i := 0
	for i < len(latencyBounds) && took > latencyBounds[i] {
		i++
	}
	c.latency[i].Add(1)
	for {
		m := c.maxLatency.Load()
		if int64(took) <= m || c.maxLatency.CompareAndSwap(m, int64(took)) {
			return
		}
	}
}

// tally is a reading of the counters.
type tally struct {
	scrapes, scrapeErrors, decisions, changed int64
	latency                                   []int64
}

func (c *counters) read() tally {
	t := tally{
		scrapes: c.scrapes.Load(), scrapeErrors: c.scrapeErrors.Load(),
		decisions: c.decisions.Load(), changed: c.changed.Load(),
		latency: make([]int64, len(latencyBounds)+1),
	}
	for i := range t.latency {
		t.latency[i] = c.latency[i].Load()
	}
	return t
}

// since is what was counted between earlier and t.
func (t tally) since(earlier tally) tally {
	d := tally{
		scrapes: t.scrapes - earlier.scrapes, scrapeErrors: t.scrapeErrors - earlier.scrapeErrors,
		decisions: t.decisions - earlier.decisions, changed: t.changed - earlier.changed,
		latency: make([]int64, len(t.latency)),
	}
	for i := range d.latency {
		d.latency[i] = t.latency[i] - earlier.latency[i]
	}
	return d
}

// quantile is the upper bound of the bucket holding the q-quantile of
// counts over bounds: the latency that a share q of the scrapes did not
// exceed, to the bucket. It is +Inf in the last, unbounded bucket and
// NaN without counts.
func quantile(counts []int64, bounds []time.Duration, q float64) float64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return math.NaN()
	}
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i, c := range counts {
		seen += c
		if seen >= max(rank, 1) {
			if i < len(bounds) {
				return ms(bounds[i])
			}
			break
		}
	}
	return math.Inf(1)
}

// decisionClock is the real clock that counts decisions: a Revision's
// loop reads Now once per decision (autoscaler.Revisions' run, which
// passes it to decide and times the next scrape from it) and once as it
// starts, before the window. The report sets the count beside what the loops' ticks
// promise, so a change of that habit shows.
type decisionClock struct {
	clock.RealClock
	c *counters
}

// Now returns the time and counts a decision.
func (d decisionClock) Now() time.Time {
	d.c.decisions.Add(1)
	return d.RealClock.Now()
}

var _ clock.WithTicker = decisionClock{}

// decided counts the decisions that differ from the one before, where
// the real process enqueues the PodAutoscaler.
func (c *counters) decided(types.NamespacedName, scaling.Decision) { c.changed.Add(1) }

// procUsage is what one process used over the measured window.
type procUsage struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	// Cores is CPUSeconds over the window's wall time.
	Cores float64 `json:"cores"`
	// PeakRSSMiB is VmHWM at the end: the most the process held since
	// it started, start-up and warm-up included.
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	RSSMiB     float64 `json:"rssMiB"`
}

// cores is the CPU time used over wall, in cores.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return math.NaN()
	}
	return cpu.Seconds() / wall.Seconds()
}

// usage reads pid's memory and sets it, with its CPU over the window,
// into a procUsage.
func usage(pid int, cpu, wall time.Duration) (procUsage, error) {
	m, err := benchkit.ReadMemory(pid)
	if err != nil {
		return procUsage{}, err
	}
	return procUsage{
		CPUSeconds: cpu.Seconds(), Cores: cores(cpu, wall),
		PeakRSSMiB: float64(m.HWMKiB) / 1024, RSSMiB: float64(m.RSSKiB) / 1024,
	}, nil
}

// goUsage is the Go runtime's view of the autoscaler's side over the
// window, sampled every second.
type goUsage struct {
	// HeapPeakMiB and HeapEndMiB are the heap's objects, live or not
	// yet collected; LiveHeapMiB is what the last GC found live.
	HeapPeakMiB float64 `json:"heapPeakMiB"`
	HeapEndMiB  float64 `json:"heapEndMiB"`
	LiveHeapMiB float64 `json:"liveHeapMiB"`
	// RuntimeMiB is all the memory the runtime has mapped: heap, stacks,
	// its own structures.
	RuntimeMiB     float64 `json:"runtimeMiB"`
	GoroutinesPeak int64   `json:"goroutinesPeak"`
	GCCycles       uint64  `json:"gcCycles"`
}

var runtimeSamples = []string{
	"/memory/classes/heap/objects:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
}

// sampleRuntime samples the runtime every second until ctx ends, and
// returns what it saw through the channel.
func sampleRuntime(ctx context.Context) <-chan goUsage {
	out := make(chan goUsage, 1)
	go func() {
		samples := make([]metrics.Sample, len(runtimeSamples))
		for i, name := range runtimeSamples {
			samples[i].Name = name
		}
		var u goUsage
		var cyclesAtStart uint64
		read := func(first bool) {
			metrics.Read(samples)
			mib := func(i int) float64 { return float64(samples[i].Value.Uint64()) / (1 << 20) }
			u.HeapEndMiB, u.LiveHeapMiB, u.RuntimeMiB = mib(0), mib(1), mib(2)
			u.HeapPeakMiB = max(u.HeapPeakMiB, u.HeapEndMiB)
			u.GoroutinesPeak = max(u.GoroutinesPeak, int64(samples[3].Value.Uint64()))
			if first {
				cyclesAtStart = samples[4].Value.Uint64()
			}
			u.GCCycles = samples[4].Value.Uint64() - cyclesAtStart
		}
		read(true)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				read(false)
				out <- u
				return
			case <-t.C:
				read(false)
			}
		}
	}()
	return out
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
