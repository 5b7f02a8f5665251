package dispatcher

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"flywheel.dev/pkg/eventing/delivery"
)

// The dispatcher's instruments, per Trigger, and their attributes.
const (
	// metricEvents counts the events a Trigger's filter passed, by how
	// their delivery ended.
	metricEvents = "flywheel.eventing.dispatch.events"
	// metricRetries counts the retries of deliveries, to the subscriber
	// and to the dead-letter sink.
	metricRetries = "flywheel.eventing.dispatch.retries"
	// metricDuration is a delivery's time, from its first attempt to its
	// outcome: every attempt and backoff.
	metricDuration = "flywheel.eventing.dispatch.duration"

	attrNamespace = attribute.Key("k8s.namespace.name")
	attrBroker    = attribute.Key("flywheel.broker")
	attrTrigger   = attribute.Key("flywheel.trigger")
	attrOutcome   = attribute.Key("flywheel.outcome")
)

// The values of attrOutcome: how a delivery ended (delivery.Result).
const (
	outcomeDelivered    = "delivered"
	outcomeDeadLettered = "dead_lettered"
	outcomeDropped      = "dropped"
	// outcomeRedelivered: neither the subscriber nor the dead-letter sink
	// took it, or the dispatcher stopped: JetStream delivers it again.
	outcomeRedelivered = "redelivered"
)

func outcomeOf(r delivery.Result) string {
	switch r {
	case delivery.Delivered:
		return outcomeDelivered
	case delivery.DeadLettered:
		return outcomeDeadLettered
	case delivery.Dropped:
		return outcomeDropped
	}
	return outcomeRedelivered
}

// durationBuckets, in seconds, reach past the default attempt timeout
// and a few backoffs.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// instruments are the dispatcher's metrics.
type instruments struct {
	events   metric.Int64Counter
	retries  metric.Int64Counter
	duration metric.Float64Histogram
}

func newInstruments(mp metric.MeterProvider) instruments {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter("flywheel.dev/pkg/eventing/dispatcher")
	// An error leaves a no-op instrument, which is what the SDK returns
	// with it anyway; the names are constants that are valid.
	events, _ := m.Int64Counter(metricEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Events a Trigger's filter passed, by how their delivery ended"))
	retries, _ := m.Int64Counter(metricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Retries of deliveries, to the subscriber and to the dead-letter sink"))
	duration, _ := m.Float64Histogram(metricDuration, metric.WithUnit("s"),
		metric.WithDescription("Time from a delivery's first attempt to its outcome, retries and backoffs included"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	return instruments{events: events, retries: retries, duration: duration}
}

// triggerMetrics records one Trigger's deliveries. Its attribute sets
// are made when its subscription starts, so a delivery allocates none.
type triggerMetrics struct {
	in        instruments
	retries   []metric.AddOption
	byOutcome map[string]outcomeOptions
}

type outcomeOptions struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func (in instruments) forTrigger(s spec) *triggerMetrics {
	base := []attribute.KeyValue{
		attrNamespace.String(s.trigger.Namespace), attrBroker.String(s.broker.Name), attrTrigger.String(s.trigger.Name),
	}
	tm := &triggerMetrics{
		in:        in,
		retries:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(base...))},
		byOutcome: map[string]outcomeOptions{},
	}
	for _, o := range []string{outcomeDelivered, outcomeDeadLettered, outcomeDropped, outcomeRedelivered} {
		set := metric.WithAttributeSet(attribute.NewSet(append(base[:len(base):len(base)], attrOutcome.String(o))...))
		tm.byOutcome[o] = outcomeOptions{add: []metric.AddOption{set}, record: []metric.RecordOption{set}}
	}
	return tm
}

// record counts one delivery that began at start and ended as out says.
func (tm *triggerMetrics) record(start time.Time, out delivery.Outcome) {
	ctx := context.Background()
	o := tm.byOutcome[outcomeOf(out.Result)]
	tm.in.events.Add(ctx, 1, o.add...)
	tm.in.duration.Record(ctx, time.Since(start).Seconds(), o.record...)
	if n := max(out.Attempts-1, 0) + max(out.DeadLetterAttempts-1, 0); n > 0 {
		tm.in.retries.Add(ctx, int64(n), tm.retries...)
	}
}

// spanAttributes name the Trigger on each attempt's span.
func spanAttributes(s spec) []attribute.KeyValue {
	return []attribute.KeyValue{
		attrNamespace.String(s.trigger.Namespace), attrBroker.String(s.broker.Name), attrTrigger.String(s.trigger.Name),
	}
}
