package otlpspans

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Provider is a trace.TracerProvider whose spans go to the Exporter in
// force (SetExporter), sampled at the rate in force (SetSampling).
// Tracers taken from it stay valid across both.
type Provider struct {
	embedded.TracerProvider

	resource []attribute.KeyValue

	// on says whether spans are recorded at all; off, even a sampled
	// parent's children are not (the SDK's NeverSample).
	on atomic.Bool
	// rootBound samples a trace that starts here when the last eight
	// bytes of its ID, shifted right by one, are below it: the SDK's
	// TraceIDRatioBased, so that a rate means the same in every
	// component and in the SDK's.
	rootBound atomic.Uint64

	exporter atomic.Pointer[Exporter]

	mu      sync.Mutex
	tracers map[scope]*tracer
}

// scope is an instrumentation scope: the tracer's name and version.
type scope struct {
	name, version, schemaURL string
}

// NewProvider returns a Provider that records nothing until SetSampling
// turns it on. resource describes the process (service.name and the
// like) on every span it exports.
func NewProvider(resource ...attribute.KeyValue) *Provider {
	return &Provider{resource: resource, tracers: map[scope]*tracer{}}
}

// SetSampling turns recording on or off and sets the share of traces
// that start here which are sampled (0 to 1). A trace that comes with a
// parent is recorded when its parent was sampled, whatever the rate:
// the SDK's ParentBased sampler.
func (p *Provider) SetSampling(on bool, rate float64) {
	var bound uint64
	switch {
	case rate >= 1:
		bound = 1 << 63
	case rate > 0:
		bound = uint64(rate * (1 << 63))
	}
	p.rootBound.Store(bound)
	p.on.Store(on)
}

// SetExporter makes e the exporter of the spans that end from now on
// (nil drops them) and returns the one it replaces, which the caller
// flushes and shuts down.
func (p *Provider) SetExporter(e *Exporter) (old *Exporter) {
	return p.exporter.Swap(e)
}

// Resource is what describes the process on every span.
func (p *Provider) Resource() []attribute.KeyValue { return p.resource }

// Tracer returns the tracer of the instrumentation scope name.
func (p *Provider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	cfg := trace.NewTracerConfig(opts...)
	key := scope{name: name, version: cfg.InstrumentationVersion(), schemaURL: cfg.SchemaURL()}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.tracers[key]
	if !ok {
		t = &tracer{provider: p, scope: key}
		p.tracers[key] = t
	}
	return t
}

// sampled decides for a new span of the trace traceID under parent.
func (p *Provider) sampled(parent trace.SpanContext, traceID trace.TraceID) bool {
	if !p.on.Load() {
		return false
	}
	if parent.IsValid() {
		return parent.IsSampled()
	}
	return binary.BigEndian.Uint64(traceID[8:16])>>1 < p.rootBound.Load()
}

type tracer struct {
	embedded.Tracer
	provider *Provider
	scope    scope
}

// Start starts a span: a recording one when the trace is sampled, else
// one that carries a new span ID and the parent's flags without the
// sampled bit, so that what comes next knows the decision.
func (t *tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	var parent trace.SpanContext
	if !cfg.NewRoot() {
		parent = trace.SpanContextFromContext(ctx)
	}
	sp, s := t.start(parent, name, trace.ValidateSpanKind(cfg.SpanKind()), cfg.Timestamp(), cfg.Attributes(), false)
	if s != nil {
		for _, l := range cfg.Links() {
			s.addLink(l)
		}
	}
	return trace.ContextWithSpan(ctx, sp), sp
}

// StartServerAt is Start with WithSpanKind(SpanKindServer),
// WithTimestamp(at) and WithAttributes(attrs...) under parent (a remote
// one, or a span of the caller's), for the data path's spans, at no
// allocation: it takes the attributes without options, leaves the span
// out of a context, and reuses the span once it ended. The caller must
// therefore not use the span after End, where the API lets it. attrs
// is copied, not kept.
func (t *tracer) StartServerAt(parent trace.SpanContext, name string, at time.Time, attrs []attribute.KeyValue) trace.Span {
	sp, _ := t.start(parent, name, trace.SpanKindServer, at, attrs, true)
	return sp
}

// start starts a span under parent, reused after End when reuse says;
// rec is the span when it records.
func (t *tracer) start(parent trace.SpanContext, name string, kind trace.SpanKind, at time.Time, attrs []attribute.KeyValue, reuse bool) (sp trace.Span, rec *span) {
	traceID := parent.TraceID()
	if !traceID.IsValid() {
		traceID = newTraceID()
	}
	scc := trace.SpanContextConfig{TraceID: traceID, SpanID: newSpanID(), TraceState: parent.TraceState()}
	if !t.provider.sampled(parent, traceID) {
		scc.TraceFlags = parent.TraceFlags() &^ trace.FlagsSampled
		return &nonRecordingSpan{sc: trace.NewSpanContext(scc), provider: t.provider}, nil
	}
	scc.TraceFlags = parent.TraceFlags() | trace.FlagsSampled
	var s *span
	if reuse {
		s = reusedSpans.Get().(*span)
	} else {
		s = new(span)
	}
	s.tracer, s.sc, s.parent, s.kind, s.name, s.start, s.reused = t, trace.NewSpanContext(scc), parent, kind, name, at, reuse
	if s.start.IsZero() {
		s.start = time.Now()
	}
	// Into the span's own room, which holds what a span of the data
	// path sets, later ones included, without an allocation more.
	s.attrs, s.droppedAttrs = addAttributes(s.inline[:0], attrs, maxAttributes)
	return s, s
}

// newTraceID and newSpanID draw from the runtime's per-thread generator,
// which needs no lock; an all-zero ID is invalid and drawn again.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// nonRecordingSpan is a span of a trace not sampled: its context only.
type nonRecordingSpan struct {
	embedded.Span
	sc       trace.SpanContext
	provider *Provider
}

func (s *nonRecordingSpan) End(...trace.SpanEndOption)              {}
func (s *nonRecordingSpan) AddEvent(string, ...trace.EventOption)   {}
func (s *nonRecordingSpan) AddLink(trace.Link)                      {}
func (s *nonRecordingSpan) IsRecording() bool                       { return false }
func (s *nonRecordingSpan) RecordError(error, ...trace.EventOption) {}
func (s *nonRecordingSpan) SpanContext() trace.SpanContext          { return s.sc }
func (s *nonRecordingSpan) SetStatus(codes.Code, string)            {}
func (s *nonRecordingSpan) SetName(string)                          {}
func (s *nonRecordingSpan) SetAttributes(...attribute.KeyValue)     {}
func (s *nonRecordingSpan) TracerProvider() trace.TracerProvider    { return s.provider }

// On says whether spans are recorded now.
func (p *Provider) On() bool { return p.on.Load() }

// ForceFlush sends the spans the exporter in force holds and waits for
// them, until ctx ends.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if e := p.exporter.Load(); e != nil {
		return e.ForceFlush(ctx)
	}
	return nil
}

// SetAttribute does nothing: the span records nothing.
func (s *nonRecordingSpan) SetAttribute(attribute.KeyValue) {}
