package metrics

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/queue/stats"
)

func TestActivatorHandler(t *testing.T) {
	c := NewCollector(time.Minute)
	var cold []types.NamespacedName
	clk := clocktesting.NewFakePassiveClock(t0.Add(10 * time.Second))
	h := ActivatorHandler(c, clk, func(rev types.NamespacedName) { cold = append(cold, rev) })
	end := t0.Add(10 * time.Second)
	batch := activator.StatBatch{Stats: []activator.Stat{
		{StatsReport: stats.Report{Namespace: "demo", Revision: "busy-00001", Pod: "activator-0", Time: end, Seconds: 1, AverageProxiedConcurrency: 4, ProxiedRequestCount: 9}},
		{StatsReport: stats.Report{Namespace: "demo", Revision: "cold-00001", Pod: "activator-0", Time: end}, Waiting: 1, ColdRequest: true},
		{StatsReport: stats.Report{Namespace: "demo", Revision: "woken-00001", Pod: "activator-0", Time: end}, ColdStarts: []time.Duration{300 * time.Millisecond}},
	}}
	body, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, activator.StatsPath, bytes.NewReader(body)))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("POST: %d %s, want 204", rec.Code, rec.Body)
	}
	if diff := cmp.Diff([]types.NamespacedName{{Namespace: "demo", Name: "cold-00001"}}, cold); diff != "" {
		t.Errorf("cold requests passed on (-want, +got):\n%s", diff)
	}
	busy := types.NamespacedName{Namespace: "demo", Name: "busy-00001"}
	if got, ok := c.Average(busy, Concurrency, end.Add(time.Second/2), time.Second); !ok || got != 4 {
		t.Errorf("busy concurrency = %v, %t; want the activator's 4", got, ok)
	}
	coldRev := types.NamespacedName{Namespace: "demo", Name: "cold-00001"}
	if got := c.Waiting(coldRev, clk.Now().Add(time.Second)); got != 1 {
		t.Errorf("waiting for the cold revision = %d, want the 1 the activator holds", got)
	}
	if got := c.Waiting(coldRev, clk.Now().Add(10*time.Second)); got != 0 {
		t.Errorf("waiting 10 s after the last report = %d, want 0: the count is stale", got)
	}

	woken := types.NamespacedName{Namespace: "demo", Name: "woken-00001"}
	if got := c.ColdStarts(woken, clk.Now()); got != (ColdStarts{Count: 1, P50: 300 * time.Millisecond, P95: 300 * time.Millisecond}) {
		t.Errorf("cold starts of the woken revision = %+v, want the one reported", got)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, activator.StatsPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, activator.StatsPath, bytes.NewReader([]byte("{"))))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("POST of bad JSON: %d, want 400", rec.Code)
	}
}
