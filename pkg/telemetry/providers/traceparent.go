package providers

import (
	"bytes"
	"context"
	"encoding/hex"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// fieldCarrier is a carrier that hands out a field's bytes as the
// request holds them (http1.TraceCarrier).
type fieldCarrier interface {
	Field(key string) []byte
}

// extractParent is the propagator's Extract without its context: the
// remote parent carrier names, invalid when none. From a fieldCarrier
// it reads traceparent from the request's own bytes, with the
// propagator's rules byte for byte (FuzzParseTraceparent holds them to
// it), where the propagator takes a string of it.
func extractParent(carrier propagation.TextMapCarrier) trace.SpanContext {
	fields, ok := carrier.(fieldCarrier)
	if !ok {
		return trace.SpanContextFromContext(traceContext.Extract(context.Background(), carrier))
	}
	scc, ok := parseTraceparent(fields.Field("traceparent"))
	if !ok {
		return trace.SpanContext{}
	}
	if state := fields.Field("tracestate"); len(state) > 0 {
		// As the propagator: a tracestate that does not parse leaves
		// the traceparent as it is.
		scc.TraceState, _ = trace.ParseTraceState(string(state))
	}
	sc := trace.NewSpanContext(scc)
	if !sc.IsValid() {
		return trace.SpanContext{}
	}
	return sc
}

// maxTraceparentVersion is the highest version W3C Trace Context allows
// (ff is invalid).
const maxTraceparentVersion = 254

// parseTraceparent reads a traceparent value as OpenTelemetry's
// propagator does: four parts split at '-', each of its length in
// lower-case hex; version 00 with nothing after the flags and only the
// two defined flag bits; later versions with anything after. The span
// context it returns is remote and may still be invalid (zero IDs).
func parseTraceparent(h []byte) (trace.SpanContextConfig, bool) {
	var scc trace.SpanContextConfig
	if len(h) == 0 {
		return scc, false
	}
	var version, flags [1]byte
	if !parsePart(version[:], &h, 2) || version[0] > maxTraceparentVersion ||
		!parsePart(scc.TraceID[:], &h, 32) || !parsePart(scc.SpanID[:], &h, 16) || !parsePart(flags[:], &h, 2) {
		return scc, false
	}
	if version[0] == 0 && (len(h) != 0 || flags[0] > 3) {
		return scc, false
	}
	scc.TraceFlags = trace.TraceFlags(flags[0]) & (trace.FlagsSampled | trace.FlagsRandom)
	scc.Remote = true
	return scc, true
}

// parsePart decodes the part of h before the next '-' (all of h when
// there is none) into dst, n hex digits, and leaves the rest in h.
func parsePart(dst []byte, h *[]byte, n int) bool {
	part, rest, _ := bytes.Cut(*h, []byte("-"))
	*h = rest
	if len(part) != n || bytes.ContainsAny(part, "ABCDEF") {
		return false
	}
	got, err := hex.Decode(dst, part)
	return err == nil && got == n/2
}
