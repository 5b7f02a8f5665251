package stats

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/telemetry/providers"
)

// series returns the sample lines of a Prometheus text body that are
// the sidecar's own, comments and the process's target_info left out.
func series(body string) []string {
	var lines []string
	for l := range strings.Lines(body) {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "flywheel_queue_") {
			lines = append(lines, l)
		}
	}
	return lines
}

// newMux is the metrics port of a sidecar measuring with tr, on a meter
// provider of its own as the sidecar's main makes it.
func newMux(t *testing.T, tr *Tracker) http.Handler {
	t.Helper()
	tel, err := providers.NewWithOptions(t.Context(), "queue-proxy", providers.DefaultConfig(), providers.Options{ScrapedElsewhere: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if err := RegisterMetrics(tel.MeterProvider(), tr, labels); err != nil {
		t.Fatal(err)
	}
	return Mux(tr, labels, tel.MetricsHandler())
}

func TestMetrics(t *testing.T) {
	tr, clk := newTracker(t)
	mux := newMux(t, tr)
	// Second 0: two requests for 750ms each, one probe for 500ms; at the
	// scrape one request and one probe are in flight.
	tr.In(Proxied)
	tr.In(Proxied)
	tr.In(Probe)
	at(clk, 500*ms)
	tr.Out(Probe)
	at(clk, 750*ms)
	tr.Out(Proxied)
	tr.Out(Proxied)
	at(clk, 1200*ms)
	tr.In(Proxied)
	tr.In(Probe)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, queue.MetricsPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %q, want 200", queue.MetricsPath, rec.Code, rec.Body)
	}
	const l = `configuration="cfg",kind="%s",namespace="ns",pod="rev-00001-deployment-abc",revision="rev-00001",service="svc"`
	with := func(name, kind, value string) string {
		return name + "{" + strings.Replace(l, "%s", kind, 1) + "} " + value
	}
	want := []string{
		with("flywheel_queue_concurrency", "probe", "0.5"),
		with("flywheel_queue_concurrency", "proxied", "1.5"),
		with("flywheel_queue_inflight_requests", "probe", "1"),
		with("flywheel_queue_inflight_requests", "proxied", "1"),
		with("flywheel_queue_requests_total", "probe", "2"),
		with("flywheel_queue_requests_total", "proxied", "3"),
	}
	if diff := cmp.Diff(want, series(rec.Body.String())); diff != "" {
		t.Errorf("GET %s series (-want, +got):\n%s\nbody:\n%s", queue.MetricsPath, diff, rec.Body)
	}
	for _, help := range []string{
		"# TYPE flywheel_queue_concurrency gauge",
		"# TYPE flywheel_queue_inflight_requests gauge",
		"# TYPE flywheel_queue_requests_total counter",
	} {
		if !strings.Contains(rec.Body.String(), help) {
			t.Errorf("GET %s lacks %q", queue.MetricsPath, help)
		}
	}
}

func TestMuxServesStats(t *testing.T) {
	tr, clk := newTracker(t)
	mux := newMux(t, tr)
	tr.In(Proxied)
	at(clk, 250*ms)
	tr.Out(Proxied)
	at(clk, time.Second)
	want := Report{
		Version: Version, Namespace: "ns", Service: "svc", Configuration: "cfg",
		Revision: "rev-00001", Pod: "rev-00001-deployment-abc",
		Time: start.Add(time.Second), Seconds: 1,
		AverageConcurrency: 0.25, AverageProxiedConcurrency: 0.25,
		RequestCount: 1, ProxiedRequestCount: 1,
	}
	if diff := cmp.Diff(want, get(t, mux, queue.StatsPath)); diff != "" {
		t.Errorf("GET %s (-want, +got):\n%s", queue.StatsPath, diff)
	}
}

func TestMuxRejects(t *testing.T) {
	tr, _ := newTracker(t)
	mux := newMux(t, tr)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, queue.MetricsPath, http.StatusMethodNotAllowed},
		{http.MethodPut, queue.StatsPath, http.StatusMethodNotAllowed},
		{http.MethodGet, "/other", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.want {
				t.Errorf("%s %s = %d, want %d", tc.method, tc.path, rec.Code, tc.want)
			}
		})
	}
}

func TestTwoMuxesDoNotShareMetrics(t *testing.T) {
	// Each meter provider has a registry of its own: a second one (a
	// test, or a restart within the process) must neither fail to
	// register nor report the first one's figures.
	a, _ := newTracker(t)
	b, _ := newTracker(t)
	a.In(Proxied)
	newMux(t, a)
	mux := newMux(t, b)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, queue.MetricsPath, nil))
	counted := 0
	for _, s := range series(rec.Body.String()) {
		if !strings.HasPrefix(s, "flywheel_queue_requests_total") {
			continue
		}
		counted++
		if !strings.HasSuffix(s, " 0") {
			t.Errorf("the second mux reports %q, want 0 requests", s)
		}
	}
	if counted != 2 {
		t.Errorf("the second mux reports %d request series, want 2 (proxied and probe)", counted)
	}
}
