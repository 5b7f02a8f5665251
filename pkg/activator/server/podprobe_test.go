package server

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeProbes answers probes from a set of addresses that answer, and
// counts the probes of each.
type fakeProbes struct {
	mu      sync.Mutex
	answers map[string]bool
	probed  map[string]int
}

func (f *fakeProbes) probe(_ context.Context, addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probed[addr]++
	return f.answers[addr]
}

func (f *fakeProbes) set(addr string, answers bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[addr] = answers
}

func (f *fakeProbes) count(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probed[addr]
}

func newFakeProbes() *fakeProbes {
	return &fakeProbes{answers: map[string]bool{}, probed: map[string]int{}}
}

func TestStartingPodsJoinOnceTheyAnswer(t *testing.T) {
	probes := newFakeProbes()
	var changed atomic.Int32
	s := newStartingPods(probes.probe, func() { changed.Add(1) })
	t.Cleanup(s.close)

	if got := s.update([]string{"a:1"}, []string{"b:1"}); !slices.Equal(got, []string{"a:1"}) {
		t.Fatalf("update = %v, want only the ready a:1 before b:1 answers", got)
	}
	waitFor(t, "b:1 to be probed", func() bool { return probes.count("b:1") >= 2 })
	if changed.Load() != 0 {
		t.Fatal("changed was called before any probe succeeded")
	}
	probes.set("b:1", true)
	waitFor(t, "changed after b:1 answered", func() bool { return changed.Load() == 1 })
	if got := s.update([]string{"a:1"}, []string{"b:1"}); !slices.Equal(got, []string{"a:1", "b:1"}) {
		t.Errorf("update = %v, want a:1 and the answering b:1", got)
	}
	// The slices catch up.
	if got := s.update([]string{"a:1", "b:1"}, nil); !slices.Equal(got, []string{"a:1", "b:1"}) {
		t.Errorf("update = %v, want a:1 and b:1", got)
	}
}

func TestAPodOnceReadyIsLeftToTheSlices(t *testing.T) {
	probes := newFakeProbes()
	probes.set("a:1", true)
	s := newStartingPods(probes.probe, func() {})
	t.Cleanup(s.close)

	s.update([]string{"a:1"}, nil)
	// Its kubelet took it out of rotation: the activator does not
	// probe it back in, however many slice changes follow.
	for range 2 {
		if got := s.update(nil, []string{"a:1"}); len(got) != 0 {
			t.Errorf("update = %v, want none: a pod the slices called ready and then not is theirs to decide", got)
		}
		s.mu.Lock()
		probing := len(s.probing)
		s.mu.Unlock()
		if probing != 0 {
			t.Fatal("a probe started for a pod the slices had called ready")
		}
	}
	if n := probes.count("a:1"); n != 0 {
		t.Errorf("a:1 was probed %d times after the slices had called it ready", n)
	}
}

func TestProbingStopsWhenThePodIsNoLongerListed(t *testing.T) {
	probes := newFakeProbes()
	s := newStartingPods(probes.probe, func() {})
	t.Cleanup(s.close)

	s.update(nil, []string{"a:1"})
	waitFor(t, "a:1 to be probed", func() bool { return probes.count("a:1") >= 1 })
	s.update(nil, nil)
	s.mu.Lock()
	running := len(s.probing)
	s.mu.Unlock()
	if running != 0 {
		t.Errorf("%d probes still run for pods no longer listed", running)
	}
	// Listed again (a new pod at the same address): probed afresh.
	probes.set("a:1", true)
	changed := make(chan struct{}, 1)
	s.changed = func() { changed <- struct{}{} }
	s.update(nil, []string{"a:1"})
	<-changed
	if got := s.update(nil, []string{"a:1"}); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("update = %v, want the answering a:1", got)
	}
}
