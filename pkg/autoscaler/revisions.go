package autoscaler

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	"flywheel.dev/pkg/queue/stats"
)

// Intervals of a Revision's loop: its pods are scraped every second, as
// the sidecars measure by the second, and the built-in class decides
// after each scrape, on the windows with that second in them. Deciding
// every other second, as Knative does, left a load step unseen for up to
// 3 s (docs/benchmarks.md, load step); a decision is a few
// multiplications.
const (
	ScrapeInterval = time.Second
	DecideInterval = ScrapeInterval
)

// A Revision's scrapes happen just after each wall-clock second ends: the
// sidecars and the activators count the wall clock's seconds, so the one
// just ended is then complete everywhere and in the windows of the
// decision that follows. Scraping at a random moment of the second, a
// load step waited up to a second more to be seen.
const (
	// scrapeDelay gives the sidecars time to close the second, and the
	// activators' reports of it, sent 10 ms after it ends, time to
	// arrive.
	scrapeDelay = 30 * time.Millisecond
	// scrapeSpread spreads the Revisions' scrapes over this much more,
	// by a hash of their names, so that a thousand Revisions do not all
	// scrape in the same millisecond.
	scrapeSpread = 250 * time.Millisecond
)

// scrapeOffset is how long after each wall-clock second rev's pods are
// scraped.
func scrapeOffset(rev types.NamespacedName) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(rev.String()))
	return scrapeDelay + time.Duration(h.Sum32()%uint32(scrapeSpread/time.Millisecond))*time.Millisecond
}

// Revisions runs the autoscaler's work for each Revision it is told
// about: a scrape of a sample of its ready pods every ScrapeInterval
// and, for the built-in class, a decision after each, or at once when
// Poked (a request waits at the activator with no pod).
type Revisions struct {
	clk       clock.WithTicker
	collector *metrics.Collector
	scrape    metrics.ScrapeFunc
	// readyPods returns the IPs of a Revision's ready pods.
	readyPods func(types.NamespacedName) []string
	// decided is told each decision that differs from the one before.
	decided func(types.NamespacedName, scaling.Decision)
	log     *slog.Logger

	mu    sync.Mutex
	loops map[types.NamespacedName]*loop
}

// NewRevisions returns a Revisions that records into collector, scrapes
// with scrape the pods readyPods lists, and tells decided each new
// decision.
func NewRevisions(clk clock.WithTicker, collector *metrics.Collector, scrape metrics.ScrapeFunc,
	readyPods func(types.NamespacedName) []string, decided func(types.NamespacedName, scaling.Decision), log *slog.Logger) *Revisions {
	return &Revisions{
		clk:       clk,
		collector: collector,
		scrape:    scrape,
		readyPods: readyPods,
		decided:   decided,
		log:       log,
		loops:     map[types.NamespacedName]*loop{},
	}
}

// loop is one Revision's work.
type loop struct {
	rev     types.NamespacedName
	r       *Revisions
	scraper *metrics.RevisionScraper
	cancel  context.CancelFunc
	poke    chan struct{}
	// done closes when run returns.
	done chan struct{}

	mu     sync.Mutex
	figure metrics.Figure
	// decider is nil for a Revision that is only measured (the HPA
	// class scales it).
	decider *scaling.Decider
	spec    scaling.Spec
	last    scaling.Decision
	// lastLoad is what last was decided on.
	lastLoad scaling.Load
	decided  bool
	// failing is set while scrapes fail, so that an outage is logged
	// once.
	failing bool
}

// Watch starts the loop of rev, or updates it: figure is what it scales
// on, spec its decider's, nil to measure it only.
func (r *Revisions) Watch(rev types.NamespacedName, figure metrics.Figure, spec *scaling.Spec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.loops[rev]
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		l = &loop{rev: rev, r: r, scraper: metrics.NewRevisionScraper(rev, r.collector, r.scrape), cancel: cancel, poke: make(chan struct{}, 1), done: make(chan struct{})}
		r.loops[rev] = l
		go l.run(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.figure = figure
	switch {
	case spec == nil:
		l.decider = nil
	case l.decider == nil:
		l.decider = scaling.NewDecider(*spec)
	default:
		// Updating keeps what the decider remembers: a changed
		// annotation must not end a panic.
		l.decider.Update(*spec)
	}
	if spec != nil {
		l.spec = *spec
	}
}

// Forget stops rev's loop and drops its history.
func (r *Revisions) Forget(rev types.NamespacedName) {
	r.mu.Lock()
	l, ok := r.loops[rev]
	delete(r.loops, rev)
	r.mu.Unlock()
	if ok {
		l.cancel()
	}
	r.collector.Forget(rev)
}

// PokedMessage is what the autoscaler logs when a Revision is Poked: a
// cold start's second mark in the logs (test/bench/autoscaling reads it).
const PokedMessage = "poked: a request waits at the activator with no ready pod; deciding at once"

// Poke makes rev decide at once.
func (r *Revisions) Poke(rev types.NamespacedName) {
	r.mu.Lock()
	l, ok := r.loops[rev]
	r.mu.Unlock()
	if !ok {
		return
	}
	r.log.Info(PokedMessage, "revision", rev.String())
	select {
	case l.poke <- struct{}{}:
	default: // a decision is already due
	}
}

// Decision returns rev's latest decision; false before its first.
func (r *Revisions) Decision(rev types.NamespacedName) (scaling.Decision, bool) {
	r.mu.Lock()
	l, ok := r.loops[rev]
	r.mu.Unlock()
	if !ok {
		return scaling.Decision{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.decided
}

// Stop ends every loop.
func (r *Revisions) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for rev, l := range r.loops {
		l.cancel()
		delete(r.loops, rev)
	}
}

func (l *loop) run(ctx context.Context) {
	defer close(l.done)
	offset := scrapeOffset(l.rev)
	scrape := l.r.clk.NewTimer(stats.UntilAfterBoundary(l.r.clk.Now(), ScrapeInterval, offset))
	defer scrape.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-scrape.C():
			l.scrapeOnce(ctx)
			now := l.r.clk.Now()
			l.decide(now)
			scrape.Reset(stats.UntilAfterBoundary(now, ScrapeInterval, offset))
		case <-l.poke:
			l.decide(l.r.clk.Now())
		}
	}
}

// scrapeOnce scrapes a sample of the ready pods.
func (l *loop) scrapeOnce(ctx context.Context) {
	tickCtx, cancel := context.WithTimeout(ctx, ScrapeInterval)
	defer cancel()
	err := l.scraper.Tick(tickCtx, l.r.readyPods(l.rev))
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil && !l.failing:
		l.failing = true
		l.r.log.Warn("scraping the revision's pods failed; its load is unknown until they answer", "revision", l.rev.String(), "error", err)
	case err == nil && l.failing:
		l.failing = false
		l.r.log.Info("scraping the revision's pods works again", "revision", l.rev.String())
	}
}

// decide runs the decider on the windows as they stand, and tells the
// Revisions' owner when the decision changed.
func (l *loop) decide(now time.Time) {
	l.mu.Lock()
	if l.decider == nil {
		l.mu.Unlock()
		return
	}
	c := l.r.collector
	load := scaling.Load{
		ReadyPods: int32(len(l.r.readyPods(l.rev))),
		Waiting:   int32(c.Waiting(l.rev, now)),
	}
	var measured bool
	load.Stable, measured = c.Average(l.rev, l.figure, now, l.spec.StableWindow)
	if !measured && load.Waiting == 0 {
		// Nothing measured yet, as when a new Revision's first pod is
		// still starting: no load is not zero load, and deciding on it
		// would scale the Revision away before anything could reach it.
		// The scale stays as it is until a report arrives, or a request
		// waits at the activator.
		l.mu.Unlock()
		return
	}
	load.Panic, _ = c.Average(l.rev, l.figure, now, l.spec.PanicWindow)
	d := l.decider.Decide(now, load)
	changed := !l.decided || d != l.last
	l.last, l.lastLoad, l.decided = d, load, true
	l.mu.Unlock()
	if changed && l.r.decided != nil {
		l.r.decided(l.rev, d)
	}
}
