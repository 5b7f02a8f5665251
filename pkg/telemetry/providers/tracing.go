package providers

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"flywheel.dev/pkg/network/http1"
)

// traceContext is W3C Trace Context, the only propagation Flywheel speaks.
var traceContext = propagation.TraceContext{}

// Tracer makes a proxy's spans of the requests it forwards. A nil
// *Tracer makes none, as one whose Telemetry has tracing off: the
// caller's trace context then passes on exactly as it came.
type Tracer struct {
	tracer trace.Tracer
	on     func() bool
}

// Tracer returns the component's Tracer for the instrumentation scope
// name.
func (t *Telemetry) Tracer(name string) *Tracer {
	return &Tracer{tracer: t.tracers.Tracer(name), on: t.TracingOn}
}

// NewTracer is a Tracer over any provider, for tests; on says whether it
// makes spans.
func NewTracer(tp trace.TracerProvider, name string, on func() bool) *Tracer {
	return &Tracer{tracer: tp.Tracer(name), on: on}
}

// On says whether spans are made now.
func (t *Tracer) On() bool { return t != nil && t.on() }

// StartServer continues the trace r's headers carry (or starts one) with
// a server span, when tracing is on. When it is off it returns r's
// context and a span that records nothing.
func (t *Tracer) StartServer(r *http.Request, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.On() {
		return r.Context(), noop.Span{}
	}
	return t.StartServerFrom(r.Context(), propagation.HeaderCarrier(r.Header), name, opts...)
}

// StartServerFrom is StartServer for a request whose trace context
// fields carrier reads, for servers whose requests are no http.Request
// (the fast path's, with http1.TraceCarrier); ctx is the request's
// context.
func (t *Tracer) StartServerFrom(ctx context.Context, carrier propagation.TextMapCarrier, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.On() {
		return ctx, noop.Span{}
	}
	ctx = traceContext.Extract(ctx, carrier)
	return t.tracer.Start(ctx, name, append(opts, serverKind)...)
}

// serverKind is made once: an option made per span costs an allocation.
var serverKind = trace.WithSpanKind(trace.SpanKindServer)

// StartServerAt starts the fast paths' server span, when tracing is
// on, under the trace context carrier reads, at at with attrs: given as
// they are rather than as options, Flywheel's own tracer provider
// (package otlpspans) takes them without allocating, and it reuses the
// span once it ended, so the caller must not use it after End (nor
// keep a context holding it). attrs is not kept (MethodAttributes'
// slices serve). Off, the span records nothing.
func (t *Tracer) StartServerAt(carrier propagation.TextMapCarrier, name string, at time.Time, attrs []attribute.KeyValue) trace.Span {
	if !t.On() {
		return noop.Span{}
	}
	parent := extractParent(carrier)
	if fast, ok := t.tracer.(serverStarter); ok {
		return fast.StartServerAt(parent, name, at, attrs)
	}
	ctx := context.Background()
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	_, span := t.tracer.Start(ctx, name, serverKind, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	return span
}

// serverStarter is the tracer of package otlpspans.
type serverStarter interface {
	StartServerAt(parent trace.SpanContext, name string, at time.Time, attrs []attribute.KeyValue) trace.Span
}

// SetAttribute sets one attribute of span: through the trace.Span
// interface SetAttributes' variadic slice costs an allocation, which the
// spans of package otlpspans spare.
func SetAttribute(span trace.Span, kv attribute.KeyValue) {
	if one, ok := span.(interface{ SetAttribute(attribute.KeyValue) }); ok {
		one.SetAttribute(kv)
		return
	}
	span.SetAttributes(kv)
}

// Start makes a span inside the request's, when tracing is on.
func (t *Tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !t.On() {
		return ctx, noop.Span{}
	}
	return t.tracer.Start(ctx, name, opts...)
}

// Forward returns r with ctx, and, when ctx holds a span of this
// Tracer, headers naming that span as the parent of what comes next;
// the caller's headers are not changed.
func (t *Tracer) Forward(ctx context.Context, r *http.Request) *http.Request {
	out := r.WithContext(ctx)
	if sc := trace.SpanContextFromContext(ctx); t.On() && sc.IsValid() {
		out.Header = r.Header.Clone()
		traceContext.Inject(ctx, propagation.HeaderCarrier(out.Header))
	}
	return out
}

// TraceFields are the W3C trace context fields that name a span as the
// parent of what comes next, for the fast paths, which write their own
// request heads: what the propagator's Inject writes (of the flags,
// sampled and random go on), made without an allocation (but for a
// trace state). The zero value names no span.
type TraceFields struct {
	traceparent [traceparentSize]byte
	tracestate  string
}

const traceparentSize = len("00-") + 32 + 1 + 16 + 1 + 2

// Set makes f name the span of sc, or none when sc is invalid.
func (f *TraceFields) Set(sc trace.SpanContext) {
	if !sc.IsValid() {
		*f = TraceFields{}
		return
	}
	b := f.traceparent[:0]
	traceID, spanID := sc.TraceID(), sc.SpanID()
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, traceID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, spanID[:])
	b = append(b, '-')
	hex.AppendEncode(b, []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))})
	f.tracestate = sc.TraceState().String()
}

// IsSet says whether f names a span.
func (f *TraceFields) IsSet() bool { return f.traceparent[0] != 0 }

// Rewrite puts f's fields in the request's place, as Inject into a copy
// of the request's fields does: traceparent replaced; tracestate
// replaced when the span has one, else the caller's left. Nothing
// changes when f names no span.
func (f *TraceFields) Rewrite(r *http1.Request, h *http1.HeaderWriter) {
	if !f.IsSet() {
		return
	}
	r.Drop("Traceparent")
	h.AddBytes("Traceparent", f.traceparent[:])
	if f.tracestate != "" {
		r.Drop("Tracestate")
		h.Add("Tracestate", f.tracestate)
	}
}

// KnownMethod is m when the semantic conventions know the method, else
// "_OTHER", as they ask: http.request.method then has a bounded set of
// values whatever a client sends.
func KnownMethod(m string) string {
	if _, ok := methodOptions[m]; ok && m != methodOther {
		return m
	}
	return methodOther
}

const methodOther = "_OTHER"

// methodOptions hold the span start option of each value KnownMethod
// gives, made once: a span's method then costs no allocation.
var methodOptions = func() map[string]trace.SpanStartEventOption {
	m := map[string]trace.SpanStartEventOption{}
	for _, method := range []string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, methodOther,
	} {
		m[method] = trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method))
	}
	return m
}()

// MethodAttribute is the span start option setting http.request.method
// to KnownMethod(m).
func MethodAttribute(m string) trace.SpanStartEventOption { return methodOptions[KnownMethod(m)] }

// methodAttributes hold the attribute of each value KnownMethod gives,
// each in a slice of its own, made once.
var methodAttributes = func() map[string][]attribute.KeyValue {
	m := map[string][]attribute.KeyValue{}
	for method := range methodOptions {
		m[method] = []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method)}
	}
	return m
}()

// MethodAttributes is http.request.method set to KnownMethod(m), for
// StartServerAt; the slice is shared and must not be changed.
func MethodAttributes(m string) []attribute.KeyValue { return methodAttributes[KnownMethod(m)] }
