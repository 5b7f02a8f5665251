package ingress

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/telemetry"
)

// The ingress's instrument and span, and their attributes.
const (
	// metricEvents counts the events posted to a Broker that exists, by
	// the answer: 202 stored, anything else refused.
	metricEvents = "flywheel.eventing.ingress.events"
	// spanIngress is a POST of an event to a Broker, from its arrival to
	// the answer; its context is the one the event is stored with.
	spanIngress = "broker-ingress"

	attrNamespace   = attribute.Key("k8s.namespace.name")
	attrBroker      = attribute.Key("flywheel.broker")
	attrStatus      = attribute.Key("http.response.status_code")
	attrEventID     = attribute.Key("cloudevents.event_id")
	attrEventSource = attribute.Key("cloudevents.event_source")
	attrEventType   = attribute.Key("cloudevents.event_type")
)

// instruments are the ingress's metrics. The attribute sets of each
// Broker and answer are made once and kept, so that counting an event
// allocates nothing.
type instruments struct {
	events metric.Int64Counter

	mu   sync.RWMutex
	sets map[eventsKey][]metric.AddOption
}

type eventsKey struct {
	broker types.NamespacedName
	status int
}

func newInstruments(mp metric.MeterProvider) *instruments {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	// An error leaves a no-op instrument, which is what the SDK returns
	// with it anyway; the name is a constant that is valid.
	events, _ := mp.Meter("flywheel.dev/pkg/eventing/ingress").Int64Counter(metricEvents,
		metric.WithUnit("{event}"),
		metric.WithDescription("Events posted to a Broker, by the ingress's answer: 202 once stored, else why it was refused"))
	return &instruments{events: events, sets: map[eventsKey][]metric.AddOption{}}
}

// count counts one event posted to broker and answered with status.
// The Brokers are those that exist, so the series stay bounded.
func (in *instruments) count(broker types.NamespacedName, status int) {
	k := eventsKey{broker: broker, status: status}
	in.mu.RLock()
	opts, ok := in.sets[k]
	in.mu.RUnlock()
	if !ok {
		opts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attrNamespace.String(broker.Namespace), attrBroker.String(broker.Name), attrStatus.Int(status)))}
		in.mu.Lock()
		in.sets[k] = opts
		in.mu.Unlock()
	}
	in.events.Add(context.Background(), 1, opts...)
}

// startSpan starts the span of an event posted to broker, from arrival.
// It continues the trace of the request's traceparent, or, without one,
// the event's own traceparent extension (structured mode). ev, when
// not nil, then carries the span on as its trace context. ctx is the
// request's.
func startSpan(ctx context.Context, tracer *telemetry.Tracer, header http.Header, broker types.NamespacedName, ev *event.Event, arrival time.Time) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attrNamespace.String(broker.Namespace), attrBroker.String(broker.Name)}
	if ev != nil {
		ctx = eventing.ContextWithEventTrace(ctx, ev)
		attrs = append(attrs, attrEventID.String(ev.ID()), attrEventSource.String(ev.Source()), attrEventType.String(ev.Type()))
	}
	ctx, span := tracer.StartServerFrom(ctx, propagation.HeaderCarrier(header), spanIngress,
		trace.WithTimestamp(arrival), trace.WithAttributes(attrs...))
	if ev != nil {
		eventing.SetEventTrace(ctx, ev)
	}
	return ctx, span
}

// endSpan notes the answer on the span and ends it: a refusal is an
// error (the event was not stored).
func endSpan(span trace.Span, status int) {
	span.SetAttributes(attrStatus.Int(status))
	if status != http.StatusAccepted {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
