package ingress

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/telemetry"
)

const (
	callerTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerTraceparent = "00-" + callerTraceID + "-00f067aa0ba902b7-01"
)

func TestEventsAreCountedByBrokerAndAnswer(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	other := defaultBroker
	other.Name = "other"
	h := NewHandler(onlyBrokers(defaultBroker, other), &fakePublisher{}, Options{
		Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	path := func(b string) string { return "/" + defaultBroker.Namespace + "/" + b }
	serve(t, h, http.MethodPost, path("default"), binaryHeader(nil, nil), `{}`)
	serve(t, h, http.MethodPost, path("default"), binaryHeader(nil, nil), `{}`)
	serve(t, h, http.MethodPost, path("default"), binaryHeader([]string{"Ce-Id"}, nil), `{}`) // 400
	serve(t, h, http.MethodPost, path("other"), binaryHeader(nil, nil), `{}`)
	// Neither a Broker that does not exist nor a probe has a series.
	serve(t, h, http.MethodPost, path("missing"), binaryHeader(nil, nil), `{}`)
	serve(t, h, http.MethodGet, ReadyPath, nil, "")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metricEvents {
				t.Errorf("an instrument %q, want only %s", m.Name, metricEvents)
				continue
			}
			if m.Unit != "{event}" {
				t.Errorf("%s has unit %q, want {event}", m.Name, m.Unit)
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				t.Fatalf("%s is a %T, want a counter", m.Name, m.Data)
			}
			for _, p := range sum.DataPoints {
				got[p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Value
			}
		}
	}
	set := func(broker string, status int) string {
		s := attribute.NewSet(attrNamespace.String("shop"), attrBroker.String(broker), attrStatus.Int(status))
		return s.Encoded(attribute.DefaultEncoder())
	}
	want := map[string]int64{
		set("default", http.StatusAccepted):   2,
		set("default", http.StatusBadRequest): 1,
		set("other", http.StatusAccepted):     1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s by attributes (-want, +got):\n%s", metricEvents, diff)
	}
}

func TestTheIngressSpanBecomesTheEventsTrace(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	pub := &fakePublisher{}
	h := NewHandler(onlyBrokers(defaultBroker), pub, Options{Tracer: telemetry.NewTracer(tp, "test", func() bool { return true })})
	path := "/" + defaultBroker.Namespace + "/" + defaultBroker.Name
	ownTraceID := "11111111111111111111111111111111"
	for _, extra := range []map[string]string{
		{"Ce-Id": "from-request", "Traceparent": callerTraceparent},
		// Structured mode's way: the event's own extension, no header.
		{"Ce-Id": "own", "Ce-Traceparent": "00-" + ownTraceID + "-2222222222222222-01"},
	} {
		if resp := serve(t, h, http.MethodPost, path, binaryHeader(nil, extra), `{}`); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %v: %d", extra, resp.StatusCode)
		}
	}
	serve(t, h, http.MethodPost, path, binaryHeader([]string{"Ce-Type"}, map[string]string{"Traceparent": callerTraceparent}), `{}`)

	spans := recorder.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want one per POST", len(spans))
	}
	stored := map[string]string{}
	for _, p := range pub.stored() {
		stored[p.ev.ID()] = fmt.Sprint(p.ev.Extensions()[eventing.TraceParentExtension])
	}
	for i, c := range []struct {
		id, traceID string
		status      string
	}{{"from-request", callerTraceID, "202"}, {"own", ownTraceID, "202"}, {"", callerTraceID, "400"}} {
		s := spans[i]
		if s.Name() != spanIngress || s.SpanKind() != trace.SpanKindServer || s.SpanContext().TraceID().String() != c.traceID {
			t.Errorf("span %d: %q of kind %v in trace %s, want %s, a server span in trace %s", i, s.Name(), s.SpanKind(), s.SpanContext().TraceID(), spanIngress, c.traceID)
		}
		attrs := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value.String()
		}
		want := map[attribute.Key]string{"k8s.namespace.name": "shop", "flywheel.broker": "default", "http.response.status_code": c.status}
		if c.id != "" {
			want["cloudevents.event_id"], want["cloudevents.event_source"], want["cloudevents.event_type"] = c.id, "/shop/checkout", "shop.order.placed"
		}
		if diff := cmp.Diff(want, attrs); diff != "" {
			t.Errorf("span %d attributes (-want, +got):\n%s", i, diff)
		}
		if c.id == "" {
			continue
		}
		// Stored with the ingress span as its parent: the dispatcher's
		// attempts are its children.
		if want := "00-" + c.traceID + "-" + s.SpanContext().SpanID().String() + "-01"; stored[c.id] != want {
			t.Errorf("event %s stored with traceparent %s, want the ingress span's %s", c.id, stored[c.id], want)
		}
	}
}
