package otlpspans

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/testing/protocmp"

	"flywheel.dev/pkg/telemetry/obsconfig"
	"flywheel.dev/pkg/telemetry/otlp/otlptest"
)

// receiver is an OTLP/HTTP receiver of spans.
type receiver = otlptest.Receiver[coltracepb.ExportTraceServiceRequest, *coltracepb.ExportTraceServiceRequest]

func newReceiver(t *testing.T) *receiver {
	return otlptest.NewReceiver[coltracepb.ExportTraceServiceRequest](t)
}

var (
	t0       = time.Unix(1_700_000_000, 123_456_789)
	remoteSC = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled | trace.FlagsRandom,
		TraceState: mustTraceState("vendor=opaque"),
		Remote:     true,
	})
)

func mustTraceState(s string) trace.TraceState {
	ts, err := trace.ParseTraceState(s)
	if err != nil {
		panic(err)
	}
	return ts
}

// scenario makes, with tp, spans of every shape the encoder writes:
// every attribute type, a key set twice, events, a link, statuses, a
// remote parent with a tracestate, a local child, two scopes, spans
// whose length takes one, two and three bytes.
func scenario(tp trace.TracerProvider) {
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remoteSC)
	a := tp.Tracer("flywheel.dev/a", trace.WithInstrumentationVersion("v1.2.3"))
	ctx, server := a.Start(ctx, "server", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t0),
		trace.WithAttributes(
			attribute.Bool("bool", true), attribute.Bool("false", false),
			attribute.Int64("int", -42), attribute.Int64("zero", 0),
			attribute.Float64("float", 2.5), attribute.String("string", "välue"), attribute.String("empty", ""),
			attribute.BoolSlice("bools", []bool{true, false}), attribute.Int64Slice("ints", []int64{1, -2, 1 << 40}),
			attribute.Float64Slice("floats", []float64{0.5, -1}), attribute.StringSlice("strings", []string{"a", ""}),
			attribute.ByteSlice("bytes", []byte{0, 1, 0xff}),
			attribute.String("twice", "first"),
		),
		trace.WithLinks(trace.Link{SpanContext: remoteSC, Attributes: []attribute.KeyValue{attribute.String("why", "because")}}))
	server.SetAttributes(attribute.String("twice", "second"), attribute.Int("http.response.status_code", 503))
	server.AddEvent("queued", trace.WithTimestamp(t0.Add(time.Millisecond)), trace.WithAttributes(attribute.Int("depth", 3)))
	server.RecordError(errors.New("upstream refused"), trace.WithTimestamp(t0.Add(2*time.Millisecond)))
	server.SetStatus(codes.Error, "Service Unavailable")

	_, internal := a.Start(ctx, "before-rename", trace.WithTimestamp(t0.Add(time.Millisecond)))
	internal.SetName("internal")
	internal.SetStatus(codes.Ok, "ignored with Ok")
	internal.SetStatus(codes.Error, "Ok is final")
	internal.End(trace.WithTimestamp(t0.Add(3 * time.Millisecond)))

	b := tp.Tracer("flywheel.dev/b")
	_, client := b.Start(ctx, "client", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(t0.Add(4*time.Millisecond)),
		trace.WithAttributes(attribute.String("large", strings.Repeat("x", 20_000))))
	client.End(trace.WithTimestamp(t0.Add(5 * time.Millisecond)))
	server.End(trace.WithTimestamp(t0.Add(6 * time.Millisecond)))
	// A new root in its own trace.
	_, root := b.Start(ctx, "root", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindProducer), trace.WithTimestamp(t0))
	root.End(trace.WithTimestamp(t0.Add(time.Millisecond)))
}

var process = []attribute.KeyValue{attribute.String("service.name", "queue-proxy"), attribute.String("k8s.pod.name", "hello-1")}

// TestEncodingIsTheSDKExportersEncoding: what this package sends a
// receiver reads as exactly what the OpenTelemetry SDK's own OTLP/HTTP
// exporter sends for the same spans, field for field, but for the IDs
// each side draws (held to the same parent links instead) and a link's
// tracestate, which only this package sends.
func TestEncodingIsTheSDKExportersEncoding(t *testing.T) {
	ctx := t.Context()

	sdkReceiver := newReceiver(t)
	sdkExporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(sdkReceiver.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	sdkProvider := sdktrace.NewTracerProvider(
		sdktrace.WithResource(sdkresource.NewSchemaless(process...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithBatcher(sdkExporter),
	)
	scenario(sdkProvider)
	if err := sdkProvider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	ours := newReceiver(t)
	p := NewProvider(sdkresource.NewSchemaless(process...).Attributes()...)
	p.SetSampling(true, 1)
	e, err := NewExporter(obsconfig.Tracing{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: ours.URL + "/v1/traces"}, p.Resource(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetExporter(e)
	scenario(p)
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	if state := linkStates(ours.Taken()); len(state) != 1 || state[0] != "vendor=opaque" {
		t.Errorf("the links' tracestates sent: %q, want [vendor=opaque]", state)
	}
	want, got := normalize(t, sdkReceiver.Taken()), normalize(t, ours.Taken())
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("the receiver reads this package's spans differently from the SDK's (-SDK, +ours):\n%s", diff)
	}
}

// normalize merges requests into one, scopes and spans in name order,
// attributes in key order, and IDs replaced by the names they stand
// for: the parent's name in parent_span_id, "remote" for the remote
// span, and for the trace ID whether it is the remote parent's.
func normalize(t *testing.T, reqs []*coltracepb.ExportTraceServiceRequest) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("the receiver took no request")
	}
	out := &coltracepb.ExportTraceServiceRequest{}
	for _, r := range reqs {
		out.ResourceSpans = append(out.ResourceSpans, r.ResourceSpans...)
	}
	if len(out.ResourceSpans) != 1 {
		t.Fatalf("%d resource spans, want 1: the spans of one process", len(out.ResourceSpans))
	}
	rs := out.ResourceSpans[0]
	sortKeyValues(rs.Resource.Attributes)
	remoteSpan := remoteSC.SpanID()
	names := map[string]string{string(remoteSpan[:]): "remote"}
	remoteTrace := remoteSC.TraceID()
	for _, ss := range rs.ScopeSpans {
		for _, s := range ss.Spans {
			names[string(s.SpanId)] = s.Name
		}
	}
	for _, ss := range rs.ScopeSpans {
		sort.Slice(ss.Spans, func(i, j int) bool { return ss.Spans[i].Name < ss.Spans[j].Name })
		for _, s := range ss.Spans {
			if len(s.TraceId) != 16 || len(s.SpanId) != 8 {
				t.Errorf("span %s: trace ID %x, span ID %x", s.Name, s.TraceId, s.SpanId)
			}
			if string(s.TraceId) == string(remoteTrace[:]) {
				s.TraceId = []byte("remote trace")
			} else {
				s.TraceId = []byte("own trace")
			}
			s.SpanId = nil
			if parent, ok := names[string(s.ParentSpanId)]; ok {
				s.ParentSpanId = []byte(parent)
			}
			sortKeyValues(s.Attributes)
			for _, l := range s.Links {
				// The SDK's exporter leaves a link's tracestate out;
				// this package sends it, as OTLP has it.
				l.TraceState = ""
			}
		}
	}
	sort.Slice(rs.ScopeSpans, func(i, j int) bool { return rs.ScopeSpans[i].Scope.Name < rs.ScopeSpans[j].Scope.Name })
	return out
}

// linkStates are the tracestates of every link in reqs.
func linkStates(reqs []*coltracepb.ExportTraceServiceRequest) (states []string) {
	for _, r := range reqs {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					for _, l := range s.Links {
						states = append(states, l.TraceState)
					}
				}
			}
		}
	}
	return states
}

func sortKeyValues(kvs []*commonpb.KeyValue) {
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
}
