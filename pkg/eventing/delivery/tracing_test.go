package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/telemetry"
)

// The trace of testEvent's traceparent extension.
const (
	eventTraceID = "0af7651916cd43dd8448eb211c80319c"
	eventSpanID  = "b7ad6b7169203331"
)

func TestEachAttemptIsASpanInTheEventsTrace(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	d := newDeliverer(t, newStepClock()).WithTracer(telemetry.NewTracer(tp, "test", func() bool { return true }))
	sub := newSink(t, reply{status: 503}, reply{status: 202})
	dls := newSink(t)
	trigger := attribute.String("flywheel.trigger", "orders")

	out := d.Deliver(context.Background(), testEvent(t), sub.url, dls.url, exponential(1, time.Millisecond), Hooks{
		SpanAttributes: []attribute.KeyValue{trigger},
	})
	if out.Result != Delivered {
		t.Fatalf("result %v, want Delivered", out.Result)
	}
	spans := recorder.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want one per attempt", len(spans))
	}
	for i, s := range spans {
		if s.Name() != SpanAttempt || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %d: %q of kind %v, want a client span %s", i, s.Name(), s.SpanKind(), SpanAttempt)
		}
		if s.Parent().TraceID().String() != eventTraceID || s.Parent().SpanID().String() != eventSpanID {
			t.Errorf("span %d has parent %v, want the event's traceparent", i, s.Parent())
		}
		attrs := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value.String()
		}
		want := map[attribute.Key]string{
			"flywheel.trigger": "orders", AttrTarget: "subscriber", AttrAttempt: []string{"1", "2"}[i],
			"url.full": sub.url.String(), "http.response.status_code": []string{"503", "202"}[i],
		}
		if diff := cmp.Diff(want, attrs); diff != "" {
			t.Errorf("span %d attributes (-want, +got):\n%s", i, diff)
		}
		if wantErr := i == 0; (s.Status().Code == codes.Error) != wantErr {
			t.Errorf("span %d status %v, want an error only for the 503", i, s.Status())
		}
		// The subscriber gets the attempt's span as the event's parent.
		want1 := "00-" + eventTraceID + "-" + s.SpanContext().SpanID().String() + "-01"
		if got := sub.requests()[i].header.Get("Traceparent"); got != want1 {
			t.Errorf("attempt %d sent traceparent %s, want its span's %s", i+1, got, want1)
		}
	}
}

func TestWithTracingOffTheEventsTraceparentGoesAsItIs(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	d := newDeliverer(t, newStepClock()).WithTracer(telemetry.NewTracer(tp, "test", func() bool { return false }))
	sub := newSink(t)
	d.Deliver(context.Background(), testEvent(t), sub.url, nil, exponential(0, 0), Hooks{})
	if got, want := sub.requests()[0].header.Get("Traceparent"), "00-"+eventTraceID+"-"+eventSpanID+"-01"; got != want {
		t.Errorf("sent traceparent %s, want the event's %s", got, want)
	}
	if n := len(recorder.Ended()); n != 0 {
		t.Errorf("%d spans with tracing off, want none", n)
	}
}
