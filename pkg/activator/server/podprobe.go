package server

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"flywheel.dev/pkg/queue"
)

// Probing a starting pod: first every probeFirstInterval, the interval
// growing by half each time up to probeMaxInterval, for at most
// probeGiveUp; after that the EndpointSlices alone say when it is ready.
const (
	probeFirstInterval = 5 * time.Millisecond
	probeMaxInterval   = 250 * time.Millisecond
	probeGiveUp        = 2 * time.Minute
	probeTimeout       = time.Second
)

// startingPods finds a Revision's pods ready before the EndpointSlices
// say so. A new pod's address is in its private Service's slices, not
// ready, as soon as the pod has one; the slices call it ready only after
// the node's readiness probe passed, the pod's status was written, and
// kube-controller-manager updated the slice: tens of milliseconds a cold
// request waits for nothing. So the activator asks each starting pod's
// queue-proxy itself (a network probe, answered only once the app passed
// its readiness check) and sends requests to it as soon as it answers.
//
// Only pods never yet ready in the slices are probed: once the slices have
// called a pod ready, they alone decide, so a pod its kubelet took out of
// rotation is not put back here.
type startingPods struct {
	probe func(ctx context.Context, addr string) bool
	// changed is called, without locks held, when a probe succeeds.
	changed func()

	mu        sync.Mutex
	everReady map[string]bool
	answered  map[string]bool
	probing   map[string]*probeRun
	closed    bool
}

// probeRun is one address's probing, ended by cancel.
type probeRun struct{ cancel context.CancelFunc }

func newStartingPods(probe func(ctx context.Context, addr string) bool, changed func()) *startingPods {
	return &startingPods{
		probe:     probe,
		changed:   changed,
		everReady: map[string]bool{},
		answered:  map[string]bool{},
		probing:   map[string]*probeRun{},
	}
}

// update takes the addresses the slices call ready and those they list as
// starting (not ready, not terminating), and returns the addresses to send
// requests to: the ready ones and the starting ones that answered a probe,
// sorted. It starts probing new starting addresses and stops probing those
// no longer listed.
func (s *startingPods) update(ready, starting []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(ready)
	present := make(map[string]bool, len(ready)+len(starting))
	for _, a := range ready {
		s.everReady[a] = true
		present[a] = true
	}
	// listed holds the starting addresses to probe: never ready yet.
	listed := make(map[string]bool, len(starting))
	for _, a := range starting {
		present[a] = true
		if s.everReady[a] {
			continue
		}
		listed[a] = true
		switch {
		case s.answered[a]:
			out = append(out, a)
		case s.probing[a] == nil && !s.closed:
			ctx, cancel := context.WithTimeout(context.Background(), probeGiveUp)
			run := &probeRun{cancel: cancel}
			s.probing[a] = run
			go s.run(ctx, run, a)
		}
	}
	for a, run := range s.probing {
		if !listed[a] {
			run.cancel()
			delete(s.probing, a)
		}
	}
	for a := range s.answered {
		if !listed[a] {
			delete(s.answered, a)
		}
	}
	// An address the slices dropped may come back as another pod's; one
	// they still list, ready or not, is still the pod they called ready.
	for a := range s.everReady {
		if !present[a] {
			delete(s.everReady, a)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// run probes addr until it answers, ctx ends or update stops it.
func (s *startingPods) run(ctx context.Context, run *probeRun, addr string) {
	interval := probeFirstInterval
	for !s.probe(ctx, addr) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		interval = min(interval*3/2, probeMaxInterval)
	}
	s.mu.Lock()
	// update may have stopped this run, and started another for the
	// address since.
	current := s.probing[addr] == run
	if current {
		run.cancel()
		delete(s.probing, addr)
		s.answered[addr] = true
	}
	s.mu.Unlock()
	if current {
		s.changed()
	}
}

// close stops every probe.
func (s *startingPods) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for a, run := range s.probing {
		run.cancel()
		delete(s.probing, a)
	}
}

// networkProbe asks the queue-proxy at addr whether its pod takes
// requests: the queue-proxy answers a network probe itself, with its
// name, once the app passed its readiness check.
func networkProbe(client *http.Client) func(ctx context.Context, addr string) bool {
	return func(ctx context.Context, addr string) bool {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return false
		}
		req.Header.Set(queue.NetworkProbeHeader, queue.NetworkProbeValue)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
		return err == nil && resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == queue.NetworkProbeValue
	}
}
