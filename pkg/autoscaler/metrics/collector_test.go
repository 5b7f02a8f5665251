package metrics

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/queue/stats"
)

// sidecar serves a real stats.Tracker's reports on a fake clock; every
// scrape, whatever pod address it names, reaches it.
func sidecar(t *testing.T, handler http.Handler) *http.Client {
	t.Helper()
	s := httptest.NewServer(handler)
	t.Cleanup(s.Close)
	dialer := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, s.Listener.Addr().String())
		},
	}}
}

func TestScrapeAndAverage(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	tracker := stats.NewTracker(clk)
	client := sidecar(t, stats.ReportHandler(tracker, stats.Labels{Namespace: "demo", Revision: "hello-00001", Pod: "p1"}))
	// Two requests in flight for three seconds.
	tracker.In(stats.Proxied)
	tracker.In(stats.Proxied)
	clk.Step(3 * time.Second)

	ctx := t.Context()
	first, err := Scrape(ctx, client, "10.0.0.1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Seconds != 1 || first.AverageProxiedConcurrency != 2 {
		t.Fatalf("first scrape: %d s at %v, want the latest second at 2", first.Seconds, first.AverageProxiedConcurrency)
	}
	tracker.Out(stats.Proxied)
	clk.Step(2 * time.Second)
	second, err := Scrape(ctx, client, "10.0.0.1", first.Time)
	if err != nil {
		t.Fatal(err)
	}
	if second.Seconds != 2 || second.AverageProxiedConcurrency != 1 {
		t.Fatalf("second scrape: %d s at %v, want the 2 seconds since the first at 1", second.Seconds, second.AverageProxiedConcurrency)
	}

	// The pod was one of a sample of 1 among 4 ready pods: it stands for
	// all four.
	rev := types.NamespacedName{Namespace: "demo", Name: "hello-00001"}
	c := NewCollector(time.Minute)
	c.RecordPods(rev, []stats.Report{first}, 4)
	c.RecordPods(rev, []stats.Report{second}, 4)
	// The activator holds 3 more for the last two seconds.
	c.RecordActivator(rev, stats.Report{Time: second.Time, Seconds: 2, AverageProxiedConcurrency: 3, ProxiedRequestCount: 6})
	now := second.Time.Add(time.Second / 2)
	if got, ok := c.Average(rev, Concurrency, now, 2*time.Second); !ok || got != 4*1+3 {
		t.Errorf("concurrency over the last 2 s = %v, %t; want 7 (4 pods at 1, the activator's 3)", got, ok)
	}
	if got, ok := c.Average(rev, Concurrency, now, time.Minute); !ok || got != (8+4+3+4+3)/3.0 {
		t.Errorf("concurrency over the window = %v, %t; want the 3 recorded seconds' mean", got, ok)
	}
	if got, ok := c.Average(rev, RPS, now, 2*time.Second); !ok || got != 3 {
		t.Errorf("rps over the last 2 s = %v, %t; want the activator's 3 a second", got, ok)
	}
	c.Forget(rev)
	if _, ok := c.Average(rev, Concurrency, now, time.Minute); ok {
		t.Error("a forgotten Revision still has an average")
	}
}

// TestRequestsThroughTheActivatorCountOnce: a request the activator
// forwarded is in the activator's report from its arrival there, and in
// the pod's as one of the activator's; the Revision's figures count it
// once.
func TestRequestsThroughTheActivatorCountOnce(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	tracker := stats.NewTracker(clk)
	client := sidecar(t, stats.ReportHandler(tracker, stats.Labels{Namespace: "demo", Revision: "hello-00001", Pod: "p1"}))
	// Over one second: one request straight from the gateway, and three
	// forwarded by the activator, in flight throughout.
	tracker.In(stats.Proxied)
	for range 3 {
		tracker.In(stats.ProxiedViaActivator)
	}
	clk.Step(time.Second)
	report, err := Scrape(t.Context(), client, "10.0.0.1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if report.AverageProxiedConcurrency != 4 || report.AverageActivatorConcurrency != 3 || report.ActivatorRequestCount != 3 {
		t.Fatalf("pod's report = %+v, want 4 proxied of which 3 through the activator", report)
	}

	rev := types.NamespacedName{Namespace: "demo", Name: "hello-00001"}
	c := NewCollector(time.Minute)
	// The sampled pod stands for two; the activator held its three and
	// two more still waiting for a pod.
	c.RecordPods(rev, []stats.Report{report}, 2)
	c.RecordActivator(rev, stats.Report{Time: report.Time, Seconds: 1, AverageProxiedConcurrency: 5, ProxiedRequestCount: 5})
	now := report.Time.Add(time.Second / 2)
	if got, ok := c.Average(rev, Concurrency, now, time.Second); !ok || got != 2*1+5 {
		t.Errorf("concurrency = %v, %t; want 7 (two pods' own 1, the activator's 5)", got, ok)
	}
	if got, ok := c.Average(rev, RPS, now, time.Second); !ok || got != 2*1+5 {
		t.Errorf("rps = %v, %t; want 7", got, ok)
	}
}

func TestScrapeRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{{
		name:    "an error status",
		handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) },
		want:    "500",
	}, {
		name:    "another version",
		handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"version": 99}`)) },
		want:    "version 99",
	}, {
		name:    "not JSON",
		handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`<html>`)) },
		want:    "reading the report",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scrape(t.Context(), sidecar(t, tc.handler), "10.0.0.1", time.Time{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Scrape = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
