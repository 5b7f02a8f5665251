package otlpspans

import (
	"context"
	"encoding/binary"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestSamplingIsTheSDKsParentBasedRatio: for roots at several rates and
// for sampled and unsampled parents, the decision is the SDK's
// ParentBased(TraceIDRatioBased(rate)), trace ID for trace ID; off, no
// span records whatever its parent says.
func TestSamplingIsTheSDKsParentBasedRatio(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true})
	for _, rate := range []float64{0, 0.001, 0.25, 0.5, 0.999, 1} {
		p := NewProvider()
		p.SetSampling(true, rate)
		sdk := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(rate))
		for i := range 2000 {
			var id trace.TraceID
			binary.BigEndian.PutUint64(id[8:], uint64(i)*0x9e3779b97f4a7c15)
			for _, parent := range []trace.SpanContext{{}, sampled, unsampled} {
				ctx := trace.ContextWithSpanContext(context.Background(), parent)
				want := sdk.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: id}).Decision == sdktrace.RecordAndSample
				if got := p.sampled(parent, id); got != want {
					t.Fatalf("rate %v, trace %s, parent sampled %v (valid %v): sampled = %v, the SDK says %v",
						rate, id, parent.IsSampled(), parent.IsValid(), got, want)
				}
			}
		}
	}
	p := NewProvider()
	p.SetSampling(false, 1)
	if p.sampled(sampled, sampled.TraceID()) {
		t.Error("a sampled parent's child is recorded with tracing off")
	}
}

// TestUnsampledSpansCarryTheDecision: a span not sampled records
// nothing but has its own span ID in its parent's trace, and the
// parent's flags without the sampled bit, for what comes next.
func TestUnsampledSpansCarryTheDecision(t *testing.T) {
	p := NewProvider()
	p.SetSampling(true, 0)
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{7}, SpanID: trace.SpanID{7}, TraceFlags: trace.FlagsRandom, TraceState: mustTraceState("a=b"), Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	ctx, s := p.Tracer("t").Start(ctx, "s")
	sc := s.SpanContext()
	switch {
	case s.IsRecording():
		t.Error("an unsampled span records")
	case sc.TraceID() != parent.TraceID() || sc.SpanID() == parent.SpanID() || !sc.SpanID().IsValid():
		t.Errorf("span context %v, want the parent's trace %s with a span ID of its own", sc, parent.TraceID())
	case sc.TraceFlags() != trace.FlagsRandom || sc.TraceState().String() != "a=b":
		t.Errorf("flags %v, state %q: want the parent's (%v, a=b) without sampled", sc.TraceFlags(), sc.TraceState(), parent.TraceFlags())
	case trace.SpanFromContext(ctx) != s:
		t.Error("the context does not hold the span")
	}
	s.End()

	// Roots get a fresh valid trace.
	_, root := p.Tracer("t").Start(context.Background(), "root")
	if !root.SpanContext().TraceID().IsValid() || root.SpanContext().IsSampled() {
		t.Errorf("a root at rate 0: %v, want a valid trace ID, not sampled", root.SpanContext())
	}
}

// TestSpanRecordsAsTheAPISays: attribute limits and duplicates, the
// status rules, nothing changes after End, End once.
func TestSpanRecordsAsTheAPISays(t *testing.T) {
	p := NewProvider()
	p.SetSampling(true, 1)
	tr := p.Tracer("t")
	if tr != p.Tracer("t") {
		t.Error("one scope, two tracers")
	}
	_, s := tr.Start(context.Background(), "s", trace.WithAttributes(attribute.String("k", "1"), attribute.String("k", "2"), attribute.KeyValue{}))
	rec := s.(*span)
	for i := range maxAttributes + 5 {
		s.SetAttributes(attribute.Int("n"+string(rune('A'+i%26))+string(rune('a'+i/26)), i))
	}
	if len(rec.attrs) != maxAttributes || rec.droppedAttrs != 6 {
		t.Errorf("%d attributes kept, %d dropped; want %d and the 6 past the limit", len(rec.attrs), rec.droppedAttrs, maxAttributes)
	}
	if rec.attrs[0] != attribute.String("k", "2") {
		t.Errorf("a key set twice holds %v, want the last value", rec.attrs[0])
	}
	s.SetStatus(codes.Error, "bad")
	s.SetStatus(codes.Unset, "")
	if rec.status != codes.Error || rec.statusMessage != "bad" {
		t.Errorf("status %v %q after Unset, want Error bad", rec.status, rec.statusMessage)
	}
	s.SetStatus(codes.Ok, "dropped")
	s.SetStatus(codes.Error, "too late")
	if rec.status != codes.Ok || rec.statusMessage != "" {
		t.Errorf("status %v %q, want Ok (final) without a description", rec.status, rec.statusMessage)
	}
	e := &Exporter{record: appendSpanRecord}
	p.SetExporter(e)
	s.End()
	s.End()
	s.SetAttributes(attribute.Bool("after", true))
	s.SetName("renamed")
	if s.IsRecording() || e.queued != 1 || rec.name != "s" || len(rec.attrs) != maxAttributes {
		t.Errorf("after End: recording %v, %d spans queued, name %q, %d attributes; want false, 1, s, %d",
			s.IsRecording(), e.queued, rec.name, len(rec.attrs), maxAttributes)
	}
}

// TestEndRecordsAPanic: a deferred End records the panic passing through
// as an exception event, and the panic goes on.
func TestEndRecordsAPanic(t *testing.T) {
	p := NewProvider()
	p.SetSampling(true, 1)
	_, s := p.Tracer("t").Start(context.Background(), "s")
	defer func() {
		if recover() == nil {
			t.Error("the panic stopped at End")
		}
		rec := s.(*span)
		if len(rec.events) != 1 || rec.events[0].name != "exception" || !rec.ended {
			t.Errorf("events %+v, ended %v: want one exception event, ended", rec.events, rec.ended)
		}
	}()
	func() {
		defer s.End()
		panic("boom")
	}()
}

// TestStartServerAtIsStartWithItsOptions: the data path's start makes
// the span Start makes with the same options, keeps no hold of the
// attributes' slice, and with SetAttribute and End allocates nothing,
// its span exported and reused.
func TestStartServerAtIsStartWithItsOptions(t *testing.T) {
	p := NewProvider()
	p.SetSampling(true, 1)
	tr := p.Tracer("t").(*tracer)
	parent := trace.ContextWithRemoteSpanContext(context.Background(), remoteSC)
	attrs := []attribute.KeyValue{attribute.String("http.request.method", "GET")}
	fast := tr.StartServerAt(remoteSC, "s", t0, attrs)
	_, slow := tr.Start(parent, "s", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t0), trace.WithAttributes(attrs...))
	attrs[0] = attribute.String("changed", "after")
	f, s := fast.(*span), slow.(*span)
	if f.kind != s.kind || !f.start.Equal(s.start) || !f.parent.Equal(s.parent) || f.sc.TraceID() != s.sc.TraceID() ||
		len(f.attrs) != 1 || f.attrs[0] != s.attrs[0] {
		t.Errorf("StartServerAt: kind %v, start %v, parent %v, attributes %v; Start: %v, %v, %v, %v",
			f.kind, f.start, f.parent, f.attrs, s.kind, s.start, s.parent, s.attrs)
	}
	fast.(*span).SetAttribute(attribute.Int("http.response.status_code", 200))
	if len(f.attrs) != 2 {
		t.Errorf("SetAttribute: attributes %v, want two", f.attrs)
	}
	attrs[0] = attribute.String("http.request.method", "GET")
	fast.End()
	allocs := testing.AllocsPerRun(100, func() {
		sp := tr.StartServerAt(remoteSC, "s", t0, attrs)
		sp.(*span).SetAttribute(attribute.Int("http.response.status_code", 200))
		sp.End()
	})
	if allocs > 0 {
		t.Errorf("StartServerAt, SetAttribute and End allocate %v times, want none", allocs)
	}
}

// TestAReusedSpanStartsClean: a data path's span, reused after End,
// carries nothing of its earlier use into the next: not its end, its
// status, events, links or attributes.
func TestAReusedSpanStartsClean(t *testing.T) {
	p := NewProvider()
	p.SetSampling(true, 1)
	type ended struct {
		name   string
		status codes.Code
		attrs  int
		events int
		links  int
		spanID trace.SpanID
	}
	var got []ended
	p.SetExporter(&Exporter{record: func(dst []byte, s *span) []byte {
		got = append(got, ended{s.name, s.status, len(s.attrs), len(s.events), len(s.links), s.sc.SpanID()})
		return dst
	}})
	tr := p.Tracer("t").(*tracer)
	attrs := []attribute.KeyValue{attribute.String("http.request.method", "GET")}
	first := tr.StartServerAt(remoteSC, "first", t0, attrs)
	first.SetAttributes(attribute.Int("http.response.status_code", 503))
	first.SetStatus(codes.Error, "Service Unavailable")
	first.AddEvent("queued")
	first.AddLink(trace.Link{SpanContext: remoteSC})
	first.End()
	for range 3 {
		second := tr.StartServerAt(remoteSC, "second", t0, attrs)
		second.End()
	}
	if len(got) != 4 {
		t.Fatalf("%d spans exported, want 4: a reused span ends again", len(got))
	}
	for _, g := range got[1:] {
		if g.name != "second" || g.status != codes.Unset || g.attrs != 1 || g.events != 0 || g.links != 0 || g.spanID == got[0].spanID {
			t.Errorf("a reused span exported as %+v; want second, unset, 1 attribute, no events or links, a new span ID", g)
		}
	}
}
