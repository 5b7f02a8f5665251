package stats

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/queue"
)

var labels = Labels{Namespace: "ns", Service: "svc", Configuration: "cfg", Revision: "rev-00001", Pod: "rev-00001-deployment-abc"}

// get serves a GET of target and decodes the Report, failing unless the
// answer is 200 JSON.
func get(t *testing.T, h http.Handler, target string) Report {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %q, want 200", target, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s Content-Type = %q, want application/json", target, ct)
	}
	var r Report
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decoding the report of GET %s: %v", target, err)
	}
	return r
}

func TestReportHandler(t *testing.T) {
	tr, clk := newTracker(t)
	h := ReportHandler(tr, labels)
	// Second 0: one request for 750ms and one probe; second 1: two
	// requests for 500ms each, one of them forwarded by the activator.
	tr.In(Proxied)
	at(clk, 250*ms)
	tr.In(Probe)
	tr.Out(Probe)
	at(clk, 750*ms)
	tr.Out(Proxied)
	at(clk, 1500*ms)
	tr.In(Proxied)
	tr.In(ProxiedViaActivator)
	at(clk, 2*time.Second)
	tr.Out(Proxied)
	tr.Out(ProxiedViaActivator)
	at(clk, 2100*ms)

	second1 := Report{
		Version: Version, Namespace: "ns", Service: "svc", Configuration: "cfg",
		Revision: "rev-00001", Pod: "rev-00001-deployment-abc",
		Time: start.Add(2 * time.Second), Seconds: 1,
		AverageConcurrency: 1, AverageProxiedConcurrency: 1, AverageActivatorConcurrency: 0.5,
		RequestCount: 2, ProxiedRequestCount: 2, ActivatorRequestCount: 1,
	}
	both := second1
	both.Seconds = 2
	both.AverageConcurrency, both.AverageProxiedConcurrency, both.AverageActivatorConcurrency = 0.875, 0.875, 0.25
	both.RequestCount, both.ProxiedRequestCount, both.ProbeRequestCount = 4, 3, 1
	none := second1
	none.Seconds, none.AverageConcurrency, none.AverageProxiedConcurrency, none.AverageActivatorConcurrency = 0, 0, 0, 0
	none.RequestCount, none.ProxiedRequestCount, none.ActivatorRequestCount = 0, 0, 0

	since := func(t time.Time) string {
		return queue.StatsPath + "?" + url.Values{SinceParam: {t.Format(time.RFC3339Nano)}}.Encode()
	}
	tests := []struct {
		name   string
		target string
		want   Report
	}{
		{name: "without since, the latest second", target: queue.StatsPath, want: second1},
		{name: "since the start, both seconds", target: since(start), want: both},
		{name: "since the first second, the second one", target: since(start.Add(time.Second)), want: second1},
		{name: "since the latest second, nothing", target: since(start.Add(2 * time.Second)), want: none},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, get(t, h, tc.target)); diff != "" {
				t.Errorf("GET %s (-want, +got):\n%s", tc.target, diff)
			}
		})
	}
}

func TestReportHandlerPassesTimeBack(t *testing.T) {
	// The time of a report, as text, asks for exactly the seconds after
	// it, even when the tracker's seconds do not start on a whole second.
	clk := clocktesting.NewFakePassiveClock(start.Add(123456789 * time.Nanosecond))
	tr := NewTracker(clk)
	h := ReportHandler(tr, labels)
	clk.SetTime(clk.Now().Add(3500 * ms))
	first := get(t, h, queue.StatsPath+"?"+SinceParam+"=2000-01-01T00:00:00Z")
	clk.SetTime(clk.Now().Add(2 * time.Second))
	next := get(t, h, queue.StatsPath+"?"+SinceParam+"="+url.QueryEscape(first.Time.Format(time.RFC3339Nano)))
	if first.Seconds != 3 || next.Seconds != 2 {
		t.Errorf("seconds covered = %d then %d, want 3 then 2", first.Seconds, next.Seconds)
	}
	if got, want := next.Time.Sub(first.Time), 2*time.Second; got != want {
		t.Errorf("the second report ends %v after the first, want %v", got, want)
	}
}

func TestStatsJSONFieldNames(t *testing.T) {
	// The names are the wire contract with the autoscaler: renaming a
	// field in Go must not rename it on the wire.
	tr, _ := newTracker(t)
	rec := httptest.NewRecorder()
	ReportHandler(tr, labels).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, queue.StatsPath, nil))
	var fields map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{
		"activatorRequestCount", "averageActivatorConcurrency", "averageConcurrency", "averageProxiedConcurrency",
		"configuration", "namespace", "pod", "probeRequestCount", "proxiedRequestCount", "requestCount",
		"revision", "seconds", "service", "time", "version",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON fields (-want, +got):\n%s", diff)
	}
	if got, want := fields["time"], "2026-11-22T10:00:00Z"; got != want {
		t.Errorf("time = %v, want %v (RFC 3339 in UTC)", got, want)
	}
}

func TestReportHandlerRejects(t *testing.T) {
	tr, _ := newTracker(t)
	h := ReportHandler(tr, labels)
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantBody   string
	}{
		{name: "POST", method: http.MethodPost, target: queue.StatsPath, wantStatus: http.StatusMethodNotAllowed, wantBody: "use GET"},
		{name: "DELETE", method: http.MethodDelete, target: queue.StatsPath, wantStatus: http.StatusMethodNotAllowed, wantBody: "use GET"},
		{name: "a since that is not a time", method: http.MethodGet, target: queue.StatsPath + "?since=yesterday", wantStatus: http.StatusBadRequest, wantBody: "not an RFC 3339 time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.target, rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Error("a 405 without an Allow header")
			}
		})
	}
}

func TestLabelsFromConfig(t *testing.T) {
	c := queue.DefaultConfig(8080)
	c.Namespace, c.Service, c.Configuration, c.Revision, c.Pod = "ns", "svc", "cfg", "rev-00001", "rev-00001-deployment-abc"
	if diff := cmp.Diff(labels, LabelsFromConfig(c)); diff != "" {
		t.Errorf("LabelsFromConfig (-want, +got):\n%s", diff)
	}
}
