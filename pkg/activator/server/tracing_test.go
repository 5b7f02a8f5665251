package server

import (
	"net/http"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"flywheel.dev/pkg/telemetry"
)

// TestAColdRequestsTraceShowsTheWaitAndTheColdStart: a request that
// waits for a Revision with no pod makes the activator's span, a wait
// span and a cold-start span inside it, the cold start from the
// request's arrival to the pod's answer.
func TestAColdRequestsTraceShowsTheWaitAndTheColdStart(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		recorder := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
		e := startActivator(t, path, Config{Tracer: telemetry.NewTracer(tp, "test", func() bool { return true })})
		key := e.addRevision("hello-00001", 0, 300)
		results := e.requestMany(key, 1)
		r := e.a.registry.get(key)
		waitFor(t, "the request to wait", func() bool { return r.throttler.waiting() == 1 })
		time.Sleep(50 * time.Millisecond)
		pod := startApp(t, "pod-a", 0)
		e.setPods(key, pod.addr())
		if res := <-results; res.code != http.StatusOK {
			t.Fatalf("the cold request: %d %q", res.code, res.body)
		}

		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range recorder.Ended() {
			byName[s.Name()] = s
		}
		activatorSpan, wait, cold := byName["activator"], byName["activator.wait"], byName["cold-start"]
		if activatorSpan == nil || wait == nil || cold == nil {
			t.Fatalf("spans %v, want activator, activator.wait and cold-start", byName)
		}
		for _, child := range []sdktrace.ReadOnlySpan{wait, cold} {
			if child.Parent().SpanID() != activatorSpan.SpanContext().SpanID() {
				t.Errorf("%s's parent is %v, want the activator's span", child.Name(), child.Parent())
			}
		}
		if !cold.StartTime().Equal(activatorSpan.StartTime()) {
			t.Errorf("the cold start began %v, want at the request's arrival %v", cold.StartTime(), activatorSpan.StartTime())
		}
		if d := cold.EndTime().Sub(cold.StartTime()); d < 50*time.Millisecond {
			t.Errorf("the cold start lasted %v, want at least the 50 ms before a pod came", d)
		}
		if cold.EndTime().After(activatorSpan.EndTime()) {
			t.Error("the cold start ended after the activator's span")
		}
	})
}
