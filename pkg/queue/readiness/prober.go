package readiness

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/queue"
)

// Start-up probing: until the app first passes, the interval is a
// twentieth of the time since start, within these bounds. The cap keeps
// an app that listens late within 10 ms of being seen (the goal in
// docs/benchmarks.md; at 50 ms an app listening after 500 ms waited 14
// ms in the median); an app that takes a minute to start costs 125
// loopback connects a second meanwhile, each refused at once.
const (
	MinStartupInterval = 5 * time.Millisecond
	MaxStartupInterval = 8 * time.Millisecond
)

// Interval returns how long to wait before the next probe: the start-up
// back-off until the app has been ready once, then the probe's period.
func Interval(spec queue.ProbeSpec, everReady bool, sinceStart time.Duration) time.Duration {
	if everReady {
		return spec.Period()
	}
	return min(max(sinceStart/20, MinStartupInterval), MaxStartupInterval)
}

// State is the readiness verdict over a run of probe results.
type State struct {
	Ready     bool
	EverReady bool
	successes int
	failures  int
}

// Observe folds in one result and reports whether the verdict changed.
// The first success ever makes the app ready at once, whatever the
// success threshold: waiting for more would only delay a cold start. After
// that, the thresholds apply as the kubelet applies them.
func (s *State) Observe(spec queue.ProbeSpec, ok bool) bool {
	if ok {
		s.successes++
		s.failures = 0
	} else {
		s.failures++
		s.successes = 0
	}
	was := s.Ready
	switch {
	case ok && !s.EverReady:
		s.Ready, s.EverReady = true, true
	case ok && s.successes >= spec.Successes():
		s.Ready = true
	case !ok && s.Ready && s.failures >= spec.Failures():
		s.Ready = false
	}
	return s.Ready != was
}

// Prober runs a Check on a schedule and keeps the verdict.
type Prober struct {
	spec  queue.ProbeSpec
	check Check
	clk   clock.Clock

	mu    sync.Mutex
	state State
	// changed is closed, and replaced, whenever the verdict changes, so
	// that WaitReady needs no polling.
	changed chan struct{}
}

// NewProber returns a Prober of check under spec's timing, on clk.
func NewProber(spec queue.ProbeSpec, check Check, clk clock.Clock) *Prober {
	return &Prober{spec: spec, check: check, clk: clk, changed: make(chan struct{})}
}

// Run probes until ctx ends.
func (p *Prober) Run(ctx context.Context) {
	start := p.clk.Now()
	for {
		p.probeOnce(ctx)
		p.mu.Lock()
		wait := Interval(p.spec, p.state.EverReady, p.clk.Since(start))
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-p.clk.After(wait):
		}
	}
}

func (p *Prober) probeOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.spec.Timeout())
	err := p.check(ctx)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state.Observe(p.spec, err == nil) {
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// Ready reports whether the app passed its probe.
func (p *Prober) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Ready
}

// WaitReady blocks until the app is ready or ctx ends, and reports
// whether it is ready. The sidecar's readiness endpoint uses it so that
// one kubelet probe, arriving before the app listens, is answered the
// moment the app passes instead of a whole kubelet period later.
func (p *Prober) WaitReady(ctx context.Context) bool {
	for {
		p.mu.Lock()
		ready, changed := p.state.Ready, p.changed
		p.mu.Unlock()
		if ready {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}
