package providers

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceFieldsAreWhatThePropagatorWrites: the fast paths' own
// formatting of the trace context matches the W3C propagator's, sampled
// or not, with a tracestate or without, and costs no allocation.
func TestTraceFieldsAreWhatThePropagatorWrites(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	state, err := trace.ParseTraceState("vendor=opaque,other=1")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []trace.SpanContextConfig{
		{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled},
		{TraceID: traceID, SpanID: spanID},
		{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled | 0x02, TraceState: state},
	} {
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(sc))
		want := http.Header{}
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(want))
		var f TraceFields
		f.Set(trace.NewSpanContext(sc))
		if !f.IsSet() || string(f.traceparent[:]) != want.Get("Traceparent") || f.tracestate != want.Get("Tracestate") {
			t.Errorf("TraceFields = %v %q, %q; the propagator writes %q, %q", f.IsSet(), f.traceparent, f.tracestate, want.Get("Traceparent"), want.Get("Tracestate"))
		}
		f.Set(trace.SpanContext{})
		if f.IsSet() || f.tracestate != "" {
			t.Errorf("TraceFields of no span = %q, %q; want nothing", f.traceparent, f.tracestate)
		}
	}
	var f TraceFields
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled})
	if n := testing.AllocsPerRun(100, func() { f.Set(sc) }); n != 0 {
		t.Errorf("Set allocates %v times, want none", n)
	}
}

func TestMethodAttributeBoundsTheMethods(t *testing.T) {
	for method, want := range map[string]string{
		http.MethodGet: "GET", http.MethodPatch: "PATCH", "PURGE": "_OTHER", "get": "_OTHER", "": "_OTHER",
	} {
		cfg := trace.NewSpanStartConfig(MethodAttribute(method))
		got := cfg.Attributes()
		if len(got) != 1 || got[0] != attribute.String("http.request.method", want) {
			t.Errorf("MethodAttribute(%q) sets %v, want http.request.method=%s", method, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = MethodAttribute(http.MethodPost) }); n != 0 {
		t.Errorf("MethodAttribute allocates %v times, want none", n)
	}
}

// TestStartServerAtOnAnyProvider: on a provider other than Flywheel's
// own (the SDK's, as tests use), StartServerAt and SetAttribute make the
// span the options would.
func TestStartServerAtOnAnyProvider(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	tracer := NewTracer(tp, "test", func() bool { return true })
	at := time.Unix(1_700_000_000, 0)
	carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	span := tracer.StartServerAt(carrier, "s", at, MethodAttributes("PURGE"))
	SetAttribute(span, attribute.Int("http.response.status_code", 204))
	span.End()
	ended := recorder.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	got := ended[0]
	want := []attribute.KeyValue{attribute.String("http.request.method", "_OTHER"), attribute.Int("http.response.status_code", 204)}
	if got.SpanKind() != trace.SpanKindServer || !got.StartTime().Equal(at) || got.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		!slices.Equal(got.Attributes(), want) {
		t.Errorf("span: kind %v, start %v, parent %v, attributes %v; want server, %v, the carrier's trace, %v",
			got.SpanKind(), got.StartTime(), got.Parent(), got.Attributes(), at, want)
	}
}
