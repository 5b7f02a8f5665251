package autoscaler

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	"flywheel.dev/pkg/queue/stats"
)

var rev = types.NamespacedName{Namespace: "demo", Name: "hello-00001"}

// pods stand for a Revision's ready pods, each reporting the same
// concurrency for every second it is asked about.
type pods struct {
	mu          sync.Mutex
	clk         *clocktesting.FakeClock
	ips         []string
	concurrency float64
}

func (p *pods) ready(types.NamespacedName) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ips
}

func (p *pods) scrape(_ context.Context, _ string, since time.Time) (stats.Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clk.Now()
	seconds := 1
	if !since.IsZero() {
		seconds = int(now.Sub(since) / time.Second)
	}
	return stats.Report{Time: now, Seconds: seconds, AverageProxiedConcurrency: p.concurrency, ProxiedRequestCount: int64(seconds)}, nil
}

func (p *pods) set(concurrency float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.concurrency = concurrency
}

type decisions struct {
	mu  sync.Mutex
	all []scaling.Decision
}

func (d *decisions) record(_ types.NamespacedName, dec scaling.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, dec)
}

func (d *decisions) last() (scaling.Decision, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.all) == 0 {
		return scaling.Decision{}, 0
	}
	return d.all[len(d.all)-1], len(d.all)
}

func testSpec() *scaling.Spec {
	return &scaling.Spec{
		TargetPerPod: 10, TotalPerPod: 10, PanicThreshold: 2,
		MaxScaleUpRate: 1000, MaxScaleDownRate: 2,
		StableWindow: 6 * time.Second, PanicWindow: time.Second,
		Reachable: true, ActivationScale: 1, EnableScaleToZero: true,
		ScaleToZeroGracePeriod: 30 * time.Second,
	}
}

// TestRevisionLoopScalesOnWhatItScrapes steps one Revision's loop by hand
// on a fake clock: the sample's load, scaled to every pod, decides.
func TestRevisionLoopScalesOnWhatItScrapes(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	p := &pods{clk: clk, ips: []string{"10.0.0.1", "10.0.0.2"}, concurrency: 10}
	var d decisions
	r := NewRevisions(clk, metrics.NewCollector(time.Minute), p.scrape, p.ready, d.record, slog.New(slog.DiscardHandler))
	defer r.Stop()
	r.Watch(rev, metrics.Concurrency, testSpec())
	l := r.loops[rev]
	l.cancel() // the test drives the loop's steps itself
	<-l.done

	step := func(seconds int) {
		for range seconds {
			clk.Step(time.Second)
			l.scrapeOnce(t.Context())
		}
		l.decide(clk.Now())
	}
	// Two pods at 10 each, a target of 10: two pods.
	step(6)
	if got, n := d.last(); n != 1 || got.DesiredPods != 2 || got.Panicking {
		t.Errorf("steady: decision %+v (#%d), want 2 pods, no panic", got, n)
	}
	// The pods jump to 50 each: the panic window sees 100 on 2 pods.
	p.set(50)
	step(1)
	if got, _ := d.last(); got.DesiredPods != 10 || !got.Panicking {
		t.Errorf("step up: decision %+v, want 10 pods in panic", got)
	}
	if got, ok := r.Decision(rev); !ok || got.DesiredPods != 10 {
		t.Errorf("Decision = %+v, %t; want the latest, 10 pods", got, ok)
	}
	// An unchanged decision is not told again.
	_, before := d.last()
	l.decide(clk.Now())
	if _, after := d.last(); after != before {
		t.Errorf("an unchanged decision was told again (%d decisions, then %d)", before, after)
	}
}

// TestScrapesJustAfterEachWallClockSecond: the loop scrapes at its
// Revision's offset past each wall-clock second, when the second just
// ended is complete at the sidecars, whenever the loop started.
func TestScrapesJustAfterEachWallClockSecond(t *testing.T) {
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start.Add(400 * time.Millisecond))
	scraped := make(chan time.Time, 10)
	scrape := func(context.Context, string, time.Time) (stats.Report, error) {
		scraped <- clk.Now()
		return stats.Report{}, nil
	}
	ready := func(types.NamespacedName) []string { return []string{"10.0.0.1"} }
	r := NewRevisions(clk, metrics.NewCollector(time.Minute), scrape, ready, nil, slog.New(slog.DiscardHandler))
	defer r.Stop()
	r.Watch(rev, metrics.Concurrency, nil)

	offset := scrapeOffset(rev)
	if offset < scrapeDelay || offset >= scrapeDelay+scrapeSpread {
		t.Fatalf("offset %v, want within [%v, %v)", offset, scrapeDelay, scrapeDelay+scrapeSpread)
	}
	for _, second := range []time.Time{start.Add(time.Second), start.Add(2 * time.Second)} {
		want := second.Add(offset)
		// The clock stops a millisecond short, then reaches the time: a
		// scrape at the first stop would carry that time.
		for deadline := time.Now().Add(10 * time.Second); !clk.HasWaiters(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the loop never waited for its next scrape")
			}
		}
		clk.SetTime(want.Add(-time.Millisecond))
		clk.SetTime(want)
		select {
		case at := <-scraped:
			if !at.Equal(want) {
				t.Errorf("scraped at %v, want %v (%v after the second)", at, want, offset)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no scrape by %v", want)
		}
	}
}

// TestNoDecisionBeforeAnythingIsMeasured: a new Revision whose pod is not
// ready yet has no load recorded; the loop must not take that for no
// load and scale it to zero before its pod could serve. Its first
// report, even an idle one, lets it decide.
func TestNoDecisionBeforeAnythingIsMeasured(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	p := &pods{clk: clk}
	var d decisions
	r := NewRevisions(clk, metrics.NewCollector(time.Minute), p.scrape, p.ready, d.record, slog.New(slog.DiscardHandler))
	defer r.Stop()
	r.Watch(rev, metrics.Concurrency, testSpec())
	l := r.loops[rev]
	l.cancel()
	<-l.done

	for range 3 {
		clk.Step(time.Second)
		l.scrapeOnce(t.Context())
		l.decide(clk.Now())
	}
	if got, n := d.last(); n != 0 {
		t.Fatalf("decided %+v with nothing measured, want no decision", got)
	}
	if _, ok := r.Decision(rev); ok {
		t.Error("Decision reports one with nothing measured")
	}
	// The pod is ready and reports an idle second: now zero load is
	// known, and the last pod is kept through the grace period.
	p.mu.Lock()
	p.ips = []string{"10.0.0.1"}
	p.mu.Unlock()
	clk.Step(time.Second)
	l.scrapeOnce(t.Context())
	clk.Step(time.Second)
	l.decide(clk.Now())
	if got, n := d.last(); n != 1 || !got.ScalingToZero {
		t.Errorf("after an idle report: decision %+v (#%d), want the last pod kept while scaling to zero", got, n)
	}
}

// TestPokeDecidesAtOnce: a request waiting at the activator for a
// Revision with no pod brings a decision of one pod without waiting for
// the loop's tick.
func TestPokeDecidesAtOnce(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	p := &pods{clk: clk}
	var d decisions
	c := metrics.NewCollector(time.Minute)
	r := NewRevisions(clk, c, p.scrape, p.ready, d.record, slog.New(slog.DiscardHandler))
	defer r.Stop()
	r.Watch(rev, metrics.Concurrency, testSpec())

	c.RecordWaiting(rev, "activator-0", 1, clk.Now())
	r.Poke(rev)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, n := d.last(); n > 0 {
			if got.DesiredPods != 1 || !got.ActivatorInPath() {
				t.Errorf("decision after the poke: %+v, want 1 pod with the activator in the path", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no decision 10 s after the poke (the fake clock never ticked)")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMeasuredOnlyRevisionsDoNotDecide(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	p := &pods{clk: clk, ips: []string{"10.0.0.1"}, concurrency: 5}
	var d decisions
	c := metrics.NewCollector(time.Minute)
	r := NewRevisions(clk, c, p.scrape, p.ready, d.record, slog.New(slog.DiscardHandler))
	defer r.Stop()
	r.Watch(rev, metrics.Concurrency, nil)
	l := r.loops[rev]
	l.cancel() // the test drives the loop's steps itself
	<-l.done
	clk.Step(time.Second)
	l.scrapeOnce(t.Context())
	l.decide(clk.Now())
	if _, n := d.last(); n != 0 {
		t.Error("a Revision of the HPA class got a decision")
	}
	if got, ok := c.Average(rev, metrics.Concurrency, clk.Now().Add(time.Second), 2*time.Second); !ok || got == 0 {
		t.Errorf("its load = %v, %t; want it measured all the same", got, ok)
	}
	r.Forget(rev)
	if _, ok := c.Average(rev, metrics.Concurrency, clk.Now(), time.Minute); ok {
		t.Error("a forgotten Revision still has figures")
	}
}
