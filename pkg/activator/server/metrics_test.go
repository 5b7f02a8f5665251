package server

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestWaitsAndQueueDepthAreMeasured: requests that wait for a cold
// Revision show in the queue depth while they wait, and in the wait
// histogram as cold waits that got a pod; those beyond the queue bound
// as full.
func TestWaitsAndQueueDepthAreMeasured(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		reader := sdkmetric.NewManualReader()
		e := startActivator(t, path, Config{MaxQueueDepth: 3, Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
		key := e.addRevision("hello-00001", 0, 300)
		results := e.requestMany(key, 4)
		r := e.a.registry.get(key)
		waitFor(t, "3 requests to wait", func() bool { return r.throttler.waiting() == 3 })
		if res := <-results; res.code != http.StatusServiceUnavailable {
			t.Fatalf("the request beyond the bound: %d, want 503", res.code)
		}

		collect := func() metricdata.ResourceMetrics {
			t.Helper()
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(t.Context(), &rm); err != nil {
				t.Fatal(err)
			}
			return rm
		}
		find := func(rm metricdata.ResourceMetrics, name string) metricdata.Aggregation {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == name {
						return m.Data
					}
				}
			}
			t.Fatalf("no %s in %+v", name, rm)
			return nil
		}
		depth := find(collect(), "flywheel.activator.queue.depth").(metricdata.Gauge[int64])
		if len(depth.DataPoints) != 1 || depth.DataPoints[0].Value != 3 {
			t.Errorf("queue depth while 3 wait: %+v", depth.DataPoints)
		} else if rev, _ := depth.DataPoints[0].Attributes.Value(attrRevision); rev.AsString() != key.Name {
			t.Errorf("queue depth's revision %q, want %q", rev.AsString(), key.Name)
		}

		time.Sleep(20 * time.Millisecond)
		pod := startApp(t, "pod-a", 0)
		e.setPods(key, pod.addr())
		for range 3 {
			if res := <-results; res.code != http.StatusOK {
				t.Errorf("buffered request: %d %q", res.code, res.body)
			}
		}
		waits := find(collect(), "flywheel.activator.wait.duration").(metricdata.Histogram[float64])
		byOutcome := map[string]uint64{}
		for _, dp := range waits.DataPoints {
			outcome, _ := dp.Attributes.Value(attrOutcome)
			cold, _ := dp.Attributes.Value(attrCold)
			byOutcome[outcome.AsString()+" "+attribute.BoolValue(cold.AsBool()).String()] += dp.Count
			if m, ok := dp.Min.Value(); ok && outcome.AsString() == "pod" && m < 0.02 {
				t.Errorf("the shortest cold wait was %vs, want at least the 20 ms before a pod came", m)
			}
		}
		coldStarts := find(collect(), "flywheel.activator.cold_start.duration").(metricdata.Histogram[float64])
		if len(coldStarts.DataPoints) != 1 || coldStarts.DataPoints[0].Count != 3 {
			t.Errorf("cold starts: %+v, want the 3 requests that waited for the Revision's first pod", coldStarts.DataPoints)
		} else if m, _ := coldStarts.DataPoints[0].Min.Value(); m < 0.02 {
			t.Errorf("the shortest cold start was %vs, want at least the 20 ms before a pod came", m)
		}
		if byOutcome["pod true"] != 3 || byOutcome["full true"] != 1 {
			t.Errorf("waits by outcome and coldness: %v, want 3 cold waits that got a pod and 1 refused as full, cold too", byOutcome)
		}
	})
}
