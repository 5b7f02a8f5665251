package otlpspans

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/telemetry/obsconfig"
)

// BenchmarkSpan is the sidecar's span of a request, exported over
// OTLP/HTTP to a receiver that reads and drops it, with this package's
// provider (as the data path starts it, StartServerAt, and through the
// API's Start) and with the SDK's: the CPU a traced request pays for
// its span, start to export, every span sent (sent-B/op says so: about
// 180 bytes a span). go test -run XXX -bench Span -cpu 1 ./pkg/telemetry/otlpspans
func BenchmarkSpan(b *testing.B) {
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
	}))
	defer sink.Close()
	res := sdkresource.NewSchemaless(process...)
	parent := trace.ContextWithRemoteSpanContext(context.Background(), remoteSC)
	method := trace.WithAttributes(attribute.String("http.request.method", "GET"))
	kind := trace.WithSpanKind(trace.SpanKindServer)
	start := func(tr trace.Tracer) trace.Span {
		_, s := tr.Start(parent, "queue-proxy", kind, method)
		return s
	}
	methodAttrs := []attribute.KeyValue{attribute.String("http.request.method", "GET")}
	startServerAt := func(tr trace.Tracer) trace.Span {
		return tr.(*tracer).StartServerAt(remoteSC, "queue-proxy", time.Now(), methodAttrs)
	}
	run := func(b *testing.B, tp trace.TracerProvider, flush func() error, start func(trace.Tracer) trace.Span) {
		tr := tp.Tracer("flywheel.dev/pkg/queue/sidecar")
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s := start(tr)
			s.SetAttributes(attribute.Int("http.response.status_code", 200), attribute.Int64("queue.wait", 0))
			s.End()
			// Within the queues' bound, so that every span is sent.
			if i++; i%1024 == 0 {
				if err := flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := flush(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(received.Swap(0))/float64(b.N), "sent-B/op")
	}
	for _, v := range []struct {
		name  string
		start func(trace.Tracer) trace.Span
	}{{"otlpspans", startServerAt}, {"otlpspans-api", start}} {
		b.Run(v.name, func(b *testing.B) {
			p := NewProvider(res.Attributes()...)
			p.SetSampling(true, 1)
			e, err := NewExporter(obsconfig.Tracing{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: sink.URL + "/v1/traces"}, p.Resource(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			p.SetExporter(e)
			run(b, p, func() error { return e.ForceFlush(context.Background()) }, v.start)
			_ = e.Shutdown(context.Background())
		})
	}
	b.Run("sdk", func(b *testing.B) {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"))
		if err != nil {
			b.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
		run(b, tp, func() error { return tp.ForceFlush(context.Background()) }, start)
		_ = tp.Shutdown(context.Background())
	})
}
