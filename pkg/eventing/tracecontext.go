package eventing

import (
	"context"
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
