package providers

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// fields is a fieldCarrier over a map, as http1.TraceCarrier is over a
// request head.
type fields map[string]string

func (f fields) Field(key string) []byte            { return []byte(f[key]) }
func (f fields) Get(key string) string              { return f[key] }
func (fields) Set(string, string)                   {}
func (fields) Keys() []string                       { return nil }
func (f fields) mapCarrier() propagation.MapCarrier { return propagation.MapCarrier(f) }
func propagatorParent(c propagation.TextMapCarrier) trace.SpanContext {
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), c))
}

// FuzzParseTraceparent holds the fast paths' reading of traceparent and
// tracestate from a request's bytes to OpenTelemetry's propagator: the
// same span context, or none, for every value.
func FuzzParseTraceparent(f *testing.F) {
	for _, tp := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-04",  // reserved flag in version 0
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace ID
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span ID
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", // version 0, a dash after
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-future",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"",
	} {
		f.Add(tp, "vendor=opaque,other=1")
	}
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "not a state")
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		c := fields{"traceparent": traceparent, "tracestate": tracestate}
		got, want := extractParent(c), propagatorParent(c.mapCarrier())
		if !got.Equal(want) {
			t.Fatalf("traceparent %q, tracestate %q: read as %v, the propagator reads %v", traceparent, tracestate, got, want)
		}
	})
}
