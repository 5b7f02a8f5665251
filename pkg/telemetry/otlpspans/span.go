package otlpspans

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// The most attributes, events and links a span keeps, and attributes an
// event or link keeps: the SDK's defaults. What is past them is counted
// as dropped, as OTLP reports it.
const (
	maxAttributes = 128
	maxEvents     = 128
	maxLinks      = 128
)

// span is a recording span. End is its last write: the Exporter then
// writes its record, reading it without its lock.
type span struct {
	embedded.Span
	tracer *tracer
	sc     trace.SpanContext
	parent trace.SpanContext
	kind   trace.SpanKind
	start  time.Time
	// reused: the span goes back to reusedSpans when it ends
	// (StartServerAt).
	reused bool

	mu            sync.Mutex
	ended         bool
	name          string
	end           time.Time
	attrs         []attribute.KeyValue
	droppedAttrs  int
	events        []event
	droppedEvents int
	links         []link
	droppedLinks  int
	status        codes.Code
	statusMessage string

	// inline is the first attributes' room.
	inline [inlineAttributes]attribute.KeyValue
}

// inlineAttributes is how many attributes a span holds before it
// allocates for them: what the spans of the data path set (the
// gateway's five), and no more, for the span's size is its allocation's
// cost (zeroed, and scanned by the collector).
const inlineAttributes = 5

type event struct {
	name         string
	time         time.Time
	attrs        []attribute.KeyValue
	droppedAttrs int
}

type link struct {
	sc           trace.SpanContext
	attrs        []attribute.KeyValue
	droppedAttrs int
}

// addAttributes adds src to dst, a key already there taking the new
// value and an invalid one (no key, no type) left out, up to limit keys;
// it returns dst and how many were dropped for the limit.
func addAttributes(dst, src []attribute.KeyValue, limit int) ([]attribute.KeyValue, int) {
	dropped := 0
next:
	for _, kv := range src {
		if !kv.Valid() {
			continue
		}
		for i := range dst {
			if dst[i].Key == kv.Key {
				dst[i] = kv
				continue next
			}
		}
		if len(dst) >= limit {
			dropped++
			continue
		}
		dst = append(dst, kv)
	}
	return dst, dropped
}

func (s *span) SpanContext() trace.SpanContext { return s.sc }

func (s *span) TracerProvider() trace.TracerProvider { return s.tracer.provider }

func (s *span) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	var dropped int
	s.attrs, dropped = addAttributes(s.attrs, kv, maxAttributes)
	s.droppedAttrs += dropped
}

// SetAttribute is SetAttributes of one attribute, for the data path: a
// call through the trace.Span interface puts its variadic slice on the
// heap, one allocation a call.
func (s *span) SetAttribute(kv attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	one := [1]attribute.KeyValue{kv}
	var dropped int
	s.attrs, dropped = addAttributes(s.attrs, one[:], maxAttributes)
	s.droppedAttrs += dropped
}

// SetStatus follows the API's rules: Ok is final, Unset changes
// nothing, and only Error keeps a description.
func (s *span) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || code == codes.Unset || s.status == codes.Ok {
		return
	}
	s.status, s.statusMessage = code, ""
	if code == codes.Error {
		s.statusMessage = description
	}
}

func (s *span) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.name = name
	}
}

func (s *span) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.addEvent(name, cfg)
	}
}

// addEvent records an event; called with mu held.
func (s *span) addEvent(name string, cfg trace.EventConfig) {
	if len(s.events) >= maxEvents {
		s.droppedEvents++
		return
	}
	e := event{name: name, time: cfg.Timestamp()}
	e.attrs, e.droppedAttrs = addAttributes(nil, cfg.Attributes(), maxAttributes)
	s.events = append(s.events, e)
}

// RecordError adds the exception event the semantic conventions name,
// as the SDK does; the status is the caller's to set.
func (s *span) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	opts = append(opts, trace.WithAttributes(
		semconv.ExceptionType(typeName(err)),
		semconv.ExceptionMessage(err.Error()),
	))
	cfg := trace.NewEventConfig(opts...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if cfg.StackTrace() {
		cfg = trace.NewEventConfig(append(opts, trace.WithAttributes(semconv.ExceptionStacktrace(string(debug.Stack()))))...)
	}
	s.addEvent(semconv.ExceptionEventName, cfg)
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String() // a pointer or another unnamed type
	}
	return t.PkgPath() + "." + t.Name()
}

func (s *span) AddLink(l trace.Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.addLink(l)
	}
}

// addLink records a link; called with mu held, or before the span is
// shared. A link to no span with nothing to say is no link (the SDK's
// rule).
func (s *span) addLink(l trace.Link) {
	if !l.SpanContext.IsValid() && len(l.Attributes) == 0 {
		return
	}
	if len(s.links) >= maxLinks {
		s.droppedLinks++
		return
	}
	out := link{sc: l.SpanContext}
	out.attrs, out.droppedAttrs = addAttributes(nil, l.Attributes, maxAttributes)
	s.links = append(s.links, out)
}

// End ends the span and hands it to the exporter in force. Deferred, it
// records a panic on its way as an exception event first, as the SDK
// does.
func (s *span) End(opts ...trace.SpanEndOption) {
	end := time.Now()
	cfg := trace.NewSpanEndConfig(opts...)
	if ts := cfg.Timestamp(); !ts.IsZero() {
		end = ts
	}
	if recovered := recover(); recovered != nil {
		defer panic(recovered)
		s.mu.Lock()
		if !s.ended {
			s.addEvent(semconv.ExceptionEventName, trace.NewEventConfig(trace.WithAttributes(
				semconv.ExceptionType(typeName(recovered)),
				semconv.ExceptionMessage(fmt.Sprint(recovered)),
			)))
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.end = true, end
	s.mu.Unlock()
	if e := s.tracer.provider.exporter.Load(); e != nil {
		e.add(s)
	}
	if s.reused {
		*s = span{}
		reusedSpans.Put(s)
	}
}

// reusedSpans are the records of the data path's spans: a traced
// request then allocates nothing for its span.
var reusedSpans = sync.Pool{New: func() any { return new(span) }}
