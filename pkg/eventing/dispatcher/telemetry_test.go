package dispatcher

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestDeliveriesAreCountedPerTrigger: a Trigger whose subscriber takes
// the event at the third attempt, and one whose subscriber refuses it
// until it goes to the dead-letter sink, each have their outcome, their
// retries and their delivery's duration.
func TestDeliveriesAreCountedPerTrigger(t *testing.T) {
	e := newEnv(t)
	reader := sdkmetric.NewManualReader()
	e.d.WithMeters(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	failing := func(s *subscriber) {
		s.respond = func(attempt int, _ request) reply {
			if attempt <= 2 {
				return reply{status: http.StatusInternalServerError}
			}
			return reply{status: http.StatusOK}
		}
	}
	retried := newTrigger("retried", e.newSubscriber(failing).url, withRetry(2))
	refused := e.newSubscriber(func(s *subscriber) {
		s.respond = func(int, request) reply { return reply{status: http.StatusInternalServerError} }
	})
	deadLettered := newTrigger("dead-lettered", refused.url, withRetry(1), withDeadLetterSink(e.newSubscriber().url))
	e.apply(retried)
	e.apply(deadLettered)
	e.publish(newEvent("e-1", "dev.flywheel.test"))
	e.settle(retried)
	e.settle(deadLettered)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	type point struct {
		Unit  string
		Value float64
	}
	got := map[string]point{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] = point{m.Unit, float64(p.Value)}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] = point{m.Unit, float64(p.Count)}
				}
			default:
				t.Errorf("%s is a %T, want a counter or a histogram", m.Name, m.Data)
			}
		}
	}
	key := func(name, trigger string, outcome ...string) string {
		kvs := []attribute.KeyValue{attrNamespace.String(e.broker.Namespace), attrBroker.String(e.broker.Name), attrTrigger.String(trigger)}
		for _, o := range outcome {
			kvs = append(kvs, attrOutcome.String(o))
		}
		s := attribute.NewSet(kvs...)
		return name + " " + s.Encoded(attribute.DefaultEncoder())
	}
	want := map[string]point{
		key(metricEvents, "retried", outcomeDelivered):            {"{event}", 1},
		key(metricDuration, "retried", outcomeDelivered):          {"s", 1},
		key(metricRetries, "retried"):                             {"{retry}", 2},
		key(metricEvents, "dead-lettered", outcomeDeadLettered):   {"{event}", 1},
		key(metricDuration, "dead-lettered", outcomeDeadLettered): {"s", 1},
		key(metricRetries, "dead-lettered"):                       {"{retry}", 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instruments (-want, +got):\n%s", diff)
	}
}
