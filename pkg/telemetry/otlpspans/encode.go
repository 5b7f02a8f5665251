package otlpspans

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP messages' field numbers (opentelemetry-proto: collector/trace/v1,
// trace/v1, common/v1, resource/v1), each named by message and field.
const (
	requestResourceSpans = 1

	resourceSpansResource   = 1
	resourceSpansScopeSpans = 2

	resourceAttributes = 1

	scopeSpansScope     = 1
	scopeSpansSpans     = 2
	scopeSpansSchemaURL = 3

	scopeName    = 1
	scopeVersion = 2

	spanTraceID           = 1
	spanSpanID            = 2
	spanTraceState        = 3
	spanParentSpanID      = 4
	spanName              = 5
	spanKind              = 6
	spanStartTime         = 7
	spanEndTime           = 8
	spanAttributes        = 9
	spanDroppedAttributes = 10
	spanEvents            = 11
	spanDroppedEvents     = 12
	spanLinks             = 13
	spanDroppedLinks      = 14
	spanStatus            = 15
	spanFlags             = 16

	eventTime              = 1
	eventName              = 2
	eventAttributes        = 3
	eventDroppedAttributes = 4

	linkTraceID           = 1
	linkSpanID            = 2
	linkTraceState        = 3
	linkAttributes        = 4
	linkDroppedAttributes = 5
	linkFlags             = 6

	statusMessage = 2
	statusCode    = 3

	keyValueKey   = 1
	keyValueValue = 2

	anyString = 1
	anyBool   = 2
	anyInt    = 3
	anyDouble = 4
	anyArray  = 5
	anyBytes  = 7

	arrayValues = 1
)

// OTLP's status codes, which number differently from the API's.
const (
	otlpStatusOK    = 1
	otlpStatusError = 2
)

// The span flags' bits above the W3C trace flags: whether the parent was
// remote is known, and whether it was.
const (
	flagsHasIsRemote = 0x100
	flagsIsRemote    = 0x200
)

// encoder appends ExportTraceServiceRequests. Nested messages are
// written to scratch buffers first, for their length; the buffers are
// kept from one request to the next.
type encoder struct {
	resource []byte // the Resource message, encoded once
	scopes   []byte
	spans    []byte
	span     []byte
	part     []byte
}

func newEncoder(resource []attribute.KeyValue) *encoder {
	e := &encoder{}
	for _, kv := range resource {
		e.resource = appendKeyValue(e.resource, resourceAttributes, kv)
	}
	return e
}

// appendRequest appends to dst one request holding spans, all of one
// resource, grouped by instrumentation scope.
func (e *encoder) appendRequest(dst []byte, spans []*span) []byte {
	e.scopes = e.scopes[:0]
	done := make(map[*tracer]bool, 2)
	for i, first := range spans {
		t := first.tracer
		if done[t] {
			continue
		}
		done[t] = true
		e.spans = e.spans[:0]
		e.part = appendString(e.part[:0], scopeName, t.scope.name)
		if t.scope.version != "" {
			e.part = appendString(e.part, scopeVersion, t.scope.version)
		}
		e.spans = appendMessage(e.spans, scopeSpansScope, e.part)
		for _, s := range spans[i:] {
			if s.tracer == t {
				e.span = appendSpan(e.span[:0], s)
				e.spans = appendMessage(e.spans, scopeSpansSpans, e.span)
			}
		}
		if t.scope.schemaURL != "" {
			e.spans = appendString(e.spans, scopeSpansSchemaURL, t.scope.schemaURL)
		}
		e.scopes = appendMessage(e.scopes, resourceSpansScopeSpans, e.spans)
	}
	resourceField := protowire.SizeTag(resourceSpansResource) + protowire.SizeBytes(len(e.resource))
	dst = protowire.AppendTag(dst, requestResourceSpans, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(resourceField+len(e.scopes)))
	dst = appendMessage(dst, resourceSpansResource, e.resource)
	return append(dst, e.scopes...)
}

func appendSpan(b []byte, s *span) []byte {
	traceID, spanID := s.sc.TraceID(), s.sc.SpanID()
	b = appendBytes(b, spanTraceID, traceID[:])
	b = appendBytes(b, spanSpanID, spanID[:])
	if ts := s.sc.TraceState().String(); ts != "" {
		b = appendString(b, spanTraceState, ts)
	}
	if s.parent.SpanID().IsValid() {
		parentID := s.parent.SpanID()
		b = appendBytes(b, spanParentSpanID, parentID[:])
	}
	b = appendString(b, spanName, s.name)
	b = protowire.AppendTag(b, spanKind, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(s.kind)) // the API numbers kinds as OTLP does
	b = appendTime(b, spanStartTime, s.start.UnixNano())
	b = appendTime(b, spanEndTime, s.end.UnixNano())
	for _, kv := range s.attrs {
		b = appendKeyValue(b, spanAttributes, kv)
	}
	b = appendCount(b, spanDroppedAttributes, s.droppedAttrs)
	for i := range s.events {
		ev := &s.events[i]
		var p []byte
		p = appendTime(p, eventTime, ev.time.UnixNano())
		p = appendString(p, eventName, ev.name)
		for _, kv := range ev.attrs {
			p = appendKeyValue(p, eventAttributes, kv)
		}
		p = appendCount(p, eventDroppedAttributes, ev.droppedAttrs)
		b = appendMessage(b, spanEvents, p)
	}
	b = appendCount(b, spanDroppedEvents, s.droppedEvents)
	for i := range s.links {
		l := &s.links[i]
		var p []byte
		linkTrace, linkSpan := l.sc.TraceID(), l.sc.SpanID()
		p = appendBytes(p, linkTraceID, linkTrace[:])
		p = appendBytes(p, linkSpanID, linkSpan[:])
		if ts := l.sc.TraceState().String(); ts != "" {
			p = appendString(p, linkTraceState, ts)
		}
		for _, kv := range l.attrs {
			p = appendKeyValue(p, linkAttributes, kv)
		}
		p = appendCount(p, linkDroppedAttributes, l.droppedAttrs)
		p = appendFlags(p, linkFlags, l.sc.TraceFlags(), l.sc)
		b = appendMessage(b, spanLinks, p)
	}
	b = appendCount(b, spanDroppedLinks, s.droppedLinks)
	// The status is always sent, empty when unset, as the SDK's exporter
	// sends it.
	var status []byte
	switch s.status {
	case codes.Ok:
		status = protowire.AppendTag(status, statusCode, protowire.VarintType)
		status = protowire.AppendVarint(status, otlpStatusOK)
	case codes.Error:
		if s.statusMessage != "" {
			status = appendString(status, statusMessage, s.statusMessage)
		}
		status = protowire.AppendTag(status, statusCode, protowire.VarintType)
		status = protowire.AppendVarint(status, otlpStatusError)
	}
	b = appendMessage(b, spanStatus, status)
	return appendFlags(b, spanFlags, s.sc.TraceFlags(), s.parent)
}

// appendFlags writes the W3C trace flags with whether parent (a span's
// parent, a link's target) is remote, as the SDK's exporter does.
func appendFlags(b []byte, field protowire.Number, tf trace.TraceFlags, parent trace.SpanContext) []byte {
	flags := uint32(tf) | flagsHasIsRemote
	if parent.IsRemote() {
		flags |= flagsIsRemote
	}
	b = protowire.AppendTag(b, field, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags)
}

func appendKeyValue(b []byte, field protowire.Number, kv attribute.KeyValue) []byte {
	key := string(kv.Key)
	valueSize := anyValueSize(kv.Value)
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeTag(keyValueKey)+protowire.SizeBytes(len(key))+
		protowire.SizeTag(keyValueValue)+protowire.SizeBytes(valueSize)))
	b = appendString(b, keyValueKey, key)
	b = protowire.AppendTag(b, keyValueValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(valueSize))
	return appendAnyValue(b, kv.Value)
}

// anyValueSize is the size of v's AnyValue message, which appendAnyValue
// writes: the SDK's exporter's mapping, type for type.
func anyValueSize(v attribute.Value) int {
	switch v.Type() {
	case attribute.EMPTY:
		return 0
	case attribute.BOOL:
		return protowire.SizeTag(anyBool) + 1
	case attribute.INT64:
		return protowire.SizeTag(anyInt) + protowire.SizeVarint(uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return protowire.SizeTag(anyDouble) + protowire.SizeFixed64()
	case attribute.STRING:
		return protowire.SizeTag(anyString) + protowire.SizeBytes(len(v.AsString()))
	case attribute.BYTESLICE:
		return protowire.SizeTag(anyBytes) + protowire.SizeBytes(len(v.AsByteSlice()))
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		return protowire.SizeTag(anyArray) + protowire.SizeBytes(arraySize(v))
	}
	return protowire.SizeTag(anyString) + protowire.SizeBytes(len(invalidValue))
}

// invalidValue is what the SDK's exporter sends for a type it does not
// know.
const invalidValue = "INVALID"

// arraySize is the size of the ArrayValue message of a slice value.
func arraySize(v attribute.Value) int {
	n := 0
	each(v, func(e attribute.Value) {
		n += protowire.SizeTag(arrayValues) + protowire.SizeBytes(anyValueSize(e))
	})
	return n
}

func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.EMPTY:
		return b
	case attribute.BOOL:
		b = protowire.AppendTag(b, anyBool, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, anyInt, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, anyDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		return appendString(b, anyString, v.AsString())
	case attribute.BYTESLICE:
		return appendBytes(b, anyBytes, v.AsByteSlice())
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE, attribute.SLICE:
		b = protowire.AppendTag(b, anyArray, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(arraySize(v)))
		each(v, func(e attribute.Value) {
			b = protowire.AppendTag(b, arrayValues, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(anyValueSize(e)))
			b = appendAnyValue(b, e)
		})
		return b
	}
	return appendString(b, anyString, invalidValue)
}

// each calls f with each element of a slice value.
func each(v attribute.Value, f func(attribute.Value)) {
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, e := range v.AsBoolSlice() {
			f(attribute.BoolValue(e))
		}
	case attribute.INT64SLICE:
		for _, e := range v.AsInt64Slice() {
			f(attribute.Int64Value(e))
		}
	case attribute.FLOAT64SLICE:
		for _, e := range v.AsFloat64Slice() {
			f(attribute.Float64Value(e))
		}
	case attribute.STRINGSLICE:
		for _, e := range v.AsStringSlice() {
			f(attribute.StringValue(e))
		}
	case attribute.SLICE:
		for _, e := range v.AsSlice() {
			f(e)
		}
	}
}

func appendMessage(b []byte, field protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendBytes(b []byte, field protowire.Number, v []byte) []byte {
	return appendMessage(b, field, v)
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendTime(b []byte, field protowire.Number, unixNano int64) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, uint64(unixNano))
}

// appendCount writes a dropped count, which proto3 leaves out at zero.
func appendCount(b []byte, field protowire.Number, n int) []byte {
	if n == 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(n))
}
