package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/queue/stats"
)

// fakePods answers scrapes as pods each at concurrency 1, every report
// covering the seconds since the one asked for, and records what was
// asked.
type fakePods struct {
	mu     sync.Mutex
	now    time.Time
	asked  map[string][]time.Time
	broken map[string]bool
}

func (f *fakePods) scrape(_ context.Context, pod string, since time.Time) (stats.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked[pod] = append(f.asked[pod], since)
	if f.broken[pod] {
		return stats.Report{}, errors.New("connection refused")
	}
	seconds := 1
	if !since.IsZero() {
		seconds = int(f.now.Sub(since) / time.Second)
	}
	return stats.Report{Time: f.now, Seconds: seconds, AverageProxiedConcurrency: 1, ProxiedRequestCount: int64(seconds)}, nil
}

func TestRevisionScraperSamplesAndScales(t *testing.T) {
	pods := make([]string, 100)
	for i := range pods {
		pods[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
	}
	f := &fakePods{now: t0, asked: map[string][]time.Time{}}
	rev := types.NamespacedName{Namespace: "demo", Name: "big-00001"}
	c := NewCollector(time.Minute)
	s := NewRevisionScraper(rev, c, f.scrape)
	if err := s.Tick(t.Context(), pods); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(time.Second)
	if err := s.Tick(t.Context(), pods); err != nil {
		t.Fatal(err)
	}
	if got := len(f.asked); got != SampleSize(100) {
		t.Errorf("scraped %d pods over two ticks, want the same sample of %d", got, SampleSize(100))
	}
	for pod, since := range f.asked {
		if len(since) != 2 || !since[0].IsZero() || !since[1].Equal(t0) {
			t.Errorf("pod %s asked since %v, want first the latest second, then since the first report", pod, since)
		}
	}
	// 50 sampled pods at 1 each stand for 100.
	if got, ok := c.Average(rev, Concurrency, f.now.Add(time.Second/2), time.Second); !ok || got != 100 {
		t.Errorf("concurrency = %v, %t; want 100", got, ok)
	}
}

func TestRevisionScraperSkipsAPodThatFails(t *testing.T) {
	f := &fakePods{now: t0, asked: map[string][]time.Time{}, broken: map[string]bool{"10.0.0.2": true}}
	rev := types.NamespacedName{Namespace: "demo", Name: "small-00001"}
	c := NewCollector(time.Minute)
	s := NewRevisionScraper(rev, c, f.scrape)
	if err := s.Tick(t.Context(), []string{"10.0.0.1", "10.0.0.2"}); err != nil {
		t.Fatalf("Tick with one of two pods failing = %v, want no error", err)
	}
	// The one that answered stands for both.
	if got, ok := c.Average(rev, Concurrency, t0.Add(time.Second/2), time.Second); !ok || got != 2 {
		t.Errorf("concurrency = %v, %t; want 2", got, ok)
	}
	f.broken["10.0.0.1"] = true
	if err := s.Tick(t.Context(), []string{"10.0.0.1", "10.0.0.2"}); err == nil {
		t.Error("Tick with every pod failing = nil, want an error")
	}
}
