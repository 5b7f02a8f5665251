package proxy_test

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
)

func TestRequestDurationByRouteBackendAndStatus(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		reader := sdkmetric.NewManualReader()
		app := newBackend(t, "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/missing" {
				http.NotFound(w, r)
				return
			}
			// An early hint first: the status counted is the final one.
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = w.Write([]byte("ok"))
		}))
		g := newGateway(t, path, proxy.Options{Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}, nil)
		g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), app)
		for _, path := range []string{"/", "/", "/missing"} {
			g.do(t, nil, "GET", path, nil)
		}
		g.do(t, nil, "BREW", "/", nil)

		// The fast path records a request once its answer is sent.
		var rm metricdata.ResourceMetrics
		var counts map[string]uint64
		poll(t, "4 requests recorded", func() bool {
			if err := reader.Collect(t.Context(), &rm); err != nil {
				t.Fatal(err)
			}
			counts = durationCounts(t, rm)
			var total uint64
			for _, n := range counts {
				total += n
			}
			return total == 4
		})
		want := map[string]uint64{
			"GET 200 demo/r demo/app:80":    2,
			"GET 404 demo/r demo/app:80":    1,
			"_OTHER 200 demo/r demo/app:80": 1,
		}
		for k, n := range want {
			if counts[k] != n {
				t.Errorf("requests %q: %d, want %d (all: %v)", k, counts[k], n, counts)
			}
		}
	})
}

// durationCounts counts the requests of http.server.request.duration by
// method, status, route and backend.
func durationCounts(t *testing.T, rm metricdata.ResourceMetrics) map[string]uint64 {
	t.Helper()
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			if m.Unit != "s" {
				t.Errorf("unit %q, want s", m.Unit)
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				get := func(k string) string { v, _ := dp.Attributes.Value(attribute.Key(k)); return v.String() }
				counts[get("http.request.method")+" "+get("http.response.status_code")+" "+get("flywheel.route")+" "+get("flywheel.backend")] += dp.Count
			}
		}
	}
	return counts
}
