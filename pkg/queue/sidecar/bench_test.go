package sidecar

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/telemetry/obsconfig"

	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/telemetry/otlpspans"
	"flywheel.dev/pkg/telemetry/providers"
)

// BenchmarkFastPath sends requests one after another on one keep-alive
// connection through a sidecar with a measure stage, as in a pod, to an
// app on loopback: the fast path's cost per request, the app's and the
// client's included (allocations are the whole process's). "measured"
// has no instruments and no tracer, as before the sidecar had them;
// "metrics" records http.server.request.duration on the SDK with
// tracing off, as by default; "traced" also makes every request's span
// (100% sampling) on the components' tracer provider (package
// otlpspans), sent over OTLP/HTTP to a receiver in the process that
// reads and drops them.
func BenchmarkFastPath(b *testing.B) {
	b.Run("measured", func(b *testing.B) { benchmarkFastPath(b, Options{}) })
	b.Run("metrics", func(b *testing.B) {
		benchmarkFastPath(b, Options{Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))})
	})
	b.Run("traced", func(b *testing.B) {
		sink := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		b.Cleanup(sink.Close)
		tp := otlpspans.NewProvider()
		tp.SetSampling(true, 1)
		exporter, err := otlpspans.NewExporter(obsconfig.Tracing{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: sink.URL + "/v1/traces"}, nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		tp.SetExporter(exporter)
		b.Cleanup(func() { _ = exporter.Shutdown(context.Background()) })
		benchmarkFastPath(b, Options{
			Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
			Tracer: providers.NewTracer(tp, "bench", func() bool { return true }),
		})
	})
}

func benchmarkFastPath(b *testing.B, opts Options) {
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}), ReadHeaderTimeout: time.Second}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Serve(al) }()
	b.Cleanup(func() { _ = app.Close() })

	cfg := testConfig(al.Addr().(*net.TCPAddr).Port)
	tracker := stats.NewTracker(clock.RealClock{})
	opts.Measure = func(h http.Handler) http.Handler { return stats.Handler(h, tracker) }
	s := New(cfg, opts)
	r := startSidecar(b, s)

	conn, err := net.Dial("tcp", strings.TrimPrefix(r.serving, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	const request = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
	roundTrip := func() {
		if _, err := io.WriteString(conn, request); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, want 200", resp.StatusCode)
		}
	}
	roundTrip() // the connections to the app are made
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
}

// BenchmarkRecordDuration is what a request's duration costs on the SDK:
// the measurement the fast path adds to each request with tracing off.
func BenchmarkRecordDuration(b *testing.B) {
	m := newRequestMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())), testConfig(8080))
	start := time.Now()
	b.ReportAllocs()
	for range b.N {
		m.record(start, http.StatusOK)
	}
}
