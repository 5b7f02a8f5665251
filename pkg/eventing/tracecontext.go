package eventing

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The CloudEvents Distributed Tracing extension's attributes. Over HTTP
// they travel as the W3C Trace Context headers of the same names, not as
// ce- headers, so that an event's trace and its request's are one.
const (
	TraceParentExtension = "traceparent"
	TraceStateExtension  = "tracestate"
)

var w3c = propagation.TraceContext{}

// TraceContextFromHeader gives ev the trace context of the request that
// brought it (its traceparent and tracestate headers), unless the event
// has one of its own: the ingress and the dispatcher's reading of replies
// keep the trace an event belongs to with it while it is stored. A
// malformed traceparent is dropped, as the W3C propagator drops it.
func TraceContextFromHeader(h http.Header, ev *event.Event) {
	if _, ok := h["Traceparent"]; !ok {
		return
	}
	if _, has := ev.Extensions()[TraceParentExtension]; has {
		return
	}
	ctx := w3c.Extract(context.Background(), propagation.HeaderCarrier(h))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	carrier := propagation.MapCarrier{}
	w3c.Inject(ctx, carrier)
	ev.SetExtension(TraceParentExtension, carrier.Get("traceparent"))
	if ts := carrier.Get("tracestate"); ts != "" {
		ev.SetExtension(TraceStateExtension, ts)
	}
}

// IsTraceContextExtension says whether an extension is carried as a W3C
// header rather than a ce- one.
func IsTraceContextExtension(name string) bool {
	return name == TraceParentExtension || name == TraceStateExtension
}

// ContextWithEventTrace returns ctx with the trace context of ev's
// traceparent (and tracestate) extensions as the remote parent of what
// comes next; ctx as it is when ev has none, or a malformed one.
func ContextWithEventTrace(ctx context.Context, ev *event.Event) context.Context {
	ext := ev.Extensions()
	tp, ok := ext[TraceParentExtension]
	if !ok {
		return ctx
	}
	carrier := propagation.MapCarrier{"traceparent": fmt.Sprint(tp)}
	if ts, ok := ext[TraceStateExtension]; ok {
		carrier["tracestate"] = fmt.Sprint(ts)
	}
	return w3c.Extract(ctx, carrier)
}

// SetEventTrace makes the span in ctx the trace context ev carries on
// (its traceparent and tracestate extensions), so that what the event
// causes next is that span's child. Without a valid span in ctx, ev is
// left as it is.
func SetEventTrace(ctx context.Context, ev *event.Event) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	carrier := propagation.MapCarrier{}
	w3c.Inject(ctx, carrier)
	ev.SetExtension(TraceParentExtension, carrier.Get("traceparent"))
	if ts := carrier.Get("tracestate"); ts != "" {
		ev.SetExtension(TraceStateExtension, ts)
	} else {
		ev.SetExtension(TraceStateExtension, nil)
	}
}

// InjectTraceContext sets h's traceparent and tracestate to the span in
// ctx: the request carries the event with that span as its trace context.
func InjectTraceContext(ctx context.Context, h http.Header) {
	h.Del("Tracestate")
	w3c.Inject(ctx, propagation.HeaderCarrier(h))
}
