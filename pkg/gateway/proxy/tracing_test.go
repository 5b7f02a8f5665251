package proxy_test

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
	"flywheel.dev/pkg/telemetry"
)

const callerTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestTheGatewaysSpanContinuesTheCallersTrace(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		recorder := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
		on := true
		var seen string
		app := newBackend(t, "app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Header.Get("Traceparent")
			_, _ = w.Write([]byte("ok"))
		}))
		g := newGateway(t, path, proxy.Options{Tracer: telemetry.NewTracer(tp, "test", func() bool { return on })}, nil)
		g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), app)

		get := func() {
			t.Helper()
			req, _ := http.NewRequest("GET", g.url+"/", nil)
			req.Host = host
			req.Header.Set("Traceparent", callerTraceparent)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		get()
		// The fast path ends the span once the answer is sent.
		poll(t, "the gateway's span ends", func() bool { return len(recorder.Ended()) > 0 })
		spans := recorder.Ended()
		if len(spans) != 1 {
			t.Fatalf("%d spans, want the gateway's one", len(spans))
		}
		s := spans[0]
		if s.Name() != "gateway" || s.SpanKind() != trace.SpanKindServer {
			t.Errorf("span %q of kind %v, want a server span named gateway", s.Name(), s.SpanKind())
		}
		if s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("the gateway's span has parent %v, want the caller's span", s.Parent())
		}
		attrs := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value.String()
		}
		for k, v := range map[attribute.Key]string{"flywheel.route": "demo/r", "flywheel.backend": "demo/app:80", "k8s.namespace.name": "demo", "http.response.status_code": "200"} {
			if attrs[k] != v {
				t.Errorf("span attribute %s = %q, want %q", k, attrs[k], v)
			}
		}
		if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + s.SpanContext().SpanID().String() + "-01"; seen != want {
			t.Errorf("the app saw traceparent %q, want the gateway's span as parent: %q", seen, want)
		}

		// Tracing off: no span, and the caller's context passes as it came.
		on = false
		get()
		if n := len(recorder.Ended()); n != 1 {
			t.Errorf("%d spans after a request with tracing off, want still 1", n)
		}
		if seen != callerTraceparent {
			t.Errorf("with tracing off the app saw traceparent %q, want the caller's %q", seen, callerTraceparent)
		}
	})
}
