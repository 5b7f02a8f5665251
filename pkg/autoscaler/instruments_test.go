package autoscaler

import (
	"log/slog"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/autoscaler/metrics"
)

// TestDecisionsAreReportedAsMetrics: a Revision in panic shows its
// desired, actual and ready pods, panic mode and both windows' load.
func TestDecisionsAreReportedAsMetrics(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	p := &pods{clk: clk, ips: []string{"10.0.0.1", "10.0.0.2"}, concurrency: 10}
	r := NewRevisions(clk, metrics.NewCollector(time.Minute), p.scrape, p.ready, nil, slog.New(slog.DiscardHandler))
	defer r.Stop()
	reader := sdkmetric.NewManualReader()
	actualPods := func(types.NamespacedName) int { return 3 }
	if err := r.RegisterInstruments(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), actualPods); err != nil {
		t.Fatal(err)
	}
	r.Watch(rev, metrics.Concurrency, testSpec())
	l := r.loops[rev]
	l.cancel() // the test drives the loop's steps itself
	<-l.done
	for range 6 {
		clk.Step(time.Second)
		l.scrapeOnce(t.Context())
	}
	p.set(50)
	clk.Step(time.Second)
	l.scrapeOnce(t.Context())
	l.decide(clk.Now())

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					if v, _ := dp.Attributes.Value(attrRevision); v.AsString() == rev.Name {
						got[m.Name] = float64(dp.Value)
					}
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					if v, _ := dp.Attributes.Value(attrMetric); v.AsString() == "concurrency" {
						got[m.Name] = dp.Value
					}
				}
			}
		}
	}
	if got[metricDesiredPods] != 10 || got[metricActualPods] != 3 || got[metricReadyPods] != 2 || got[metricPanicMode] != 1 {
		t.Errorf("pods and panic: %v, want 10 desired, 3 actual, 2 ready, panic 1", got)
	}
	if got[metricPanicLoad] <= got[metricStableLoad] || got[metricStableLoad] <= 0 {
		t.Errorf("loads: stable %v, panic %v; want the panic window's above the stable one's after the jump", got[metricStableLoad], got[metricPanicLoad])
	}
}
