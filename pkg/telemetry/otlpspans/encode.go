package otlpspans

import (
	"encoding/binary"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"flywheel.dev/pkg/telemetry/otlp"
)

// The OTLP messages' field numbers (opentelemetry-proto: collector/trace/v1,
// trace/v1, common/v1, resource/v1), each named by message and field.
const (
	requestResourceSpans = 1

	resourceSpansResource   = 1
	resourceSpansScopeSpans = 2

	scopeSpansScope     = 1
	scopeSpansSpans     = 2
	scopeSpansSchemaURL = 3

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

// encoder appends ExportTraceServiceRequests around batches of span
// records (appendSpanRecord). The ScopeSpans messages are written to a
// scratch buffer first, for their length; it is kept from one request
// to the next.
type encoder struct {
	resource []byte // the Resource message, encoded once
	scopes   []byte
	scope    []byte
}

func newEncoder(resource []attribute.KeyValue) *encoder {
	return &encoder{resource: otlp.Resource(resource)}
}

// appendRequest appends to dst one request holding b's spans, all of one
// resource, grouped by instrumentation scope.
func (e *encoder) appendRequest(dst []byte, b *batch) []byte {
	e.scopes = e.scopes[:0]
	for _, sr := range b.scopes {
		sc := sr.tracer.scope
		e.scope = otlp.Scope(e.scope[:0], sc.name, sc.version)
		size := protowire.SizeTag(scopeSpansScope) + protowire.SizeBytes(len(e.scope)) + len(sr.records)
		if sc.schemaURL != "" {
			size += protowire.SizeTag(scopeSpansSchemaURL) + protowire.SizeBytes(len(sc.schemaURL))
		}
		e.scopes = protowire.AppendTag(e.scopes, resourceSpansScopeSpans, protowire.BytesType)
		e.scopes = protowire.AppendVarint(e.scopes, uint64(size))
		e.scopes = otlp.AppendMessage(e.scopes, scopeSpansScope, e.scope)
		e.scopes = append(e.scopes, sr.records...)
		if sc.schemaURL != "" {
			e.scopes = otlp.AppendString(e.scopes, scopeSpansSchemaURL, sc.schemaURL)
		}
	}
	resourceField := protowire.SizeTag(resourceSpansResource) + protowire.SizeBytes(len(e.resource))
	dst = protowire.AppendTag(dst, requestResourceSpans, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(resourceField+len(e.scopes)))
	dst = otlp.AppendMessage(dst, resourceSpansResource, e.resource)
	return append(dst, e.scopes...)
}

// appendSpanRecord appends s as the spans field of a ScopeSpans message.
// The span is written after room for its length, which is then filled
// in: the length of a span of fewer than 16 KiB, as the data path's
// are, takes two bytes; the span moves when its length takes another
// number.
func appendSpanRecord(dst []byte, s *span) []byte {
	dst = protowire.AppendTag(dst, scopeSpansSpans, protowire.BytesType)
	const room = 2
	at := len(dst)
	dst = append(dst, 0, 0)
	dst = appendSpan(dst, s)
	n := len(dst) - at - room
	var length [binary.MaxVarintLen64]byte
	size := copy(length[:], protowire.AppendVarint(length[:0], uint64(n)))
	if size > room {
		dst = append(dst, make([]byte, size-room)...)
		copy(dst[at+size:], dst[at+room:at+room+n])
	} else if size < room {
		copy(dst[at+size:], dst[at+room:at+room+n])
		dst = dst[:at+size+n]
	}
	copy(dst[at:], length[:size])
	return dst
}

func appendSpan(b []byte, s *span) []byte {
	traceID, spanID := s.sc.TraceID(), s.sc.SpanID()
	b = otlp.AppendBytes(b, spanTraceID, traceID[:])
	b = otlp.AppendBytes(b, spanSpanID, spanID[:])
	if ts := s.sc.TraceState().String(); ts != "" {
		b = otlp.AppendString(b, spanTraceState, ts)
	}
	if s.parent.SpanID().IsValid() {
		parentID := s.parent.SpanID()
		b = otlp.AppendBytes(b, spanParentSpanID, parentID[:])
	}
	b = otlp.AppendString(b, spanName, s.name)
	b = otlp.AppendVarint(b, spanKind, uint64(s.kind)) // the API numbers kinds as OTLP does
	b = otlp.AppendTime(b, spanStartTime, s.start.UnixNano())
	b = otlp.AppendTime(b, spanEndTime, s.end.UnixNano())
	for _, kv := range s.attrs {
		b = otlp.AppendKeyValue(b, spanAttributes, kv)
	}
	b = otlp.AppendCount(b, spanDroppedAttributes, s.droppedAttrs)
	for i := range s.events {
		ev := &s.events[i]
		var p []byte
		p = otlp.AppendTime(p, eventTime, ev.time.UnixNano())
		p = otlp.AppendString(p, eventName, ev.name)
		for _, kv := range ev.attrs {
			p = otlp.AppendKeyValue(p, eventAttributes, kv)
		}
		p = otlp.AppendCount(p, eventDroppedAttributes, ev.droppedAttrs)
		b = otlp.AppendMessage(b, spanEvents, p)
	}
	b = otlp.AppendCount(b, spanDroppedEvents, s.droppedEvents)
	for i := range s.links {
		l := &s.links[i]
		var p []byte
		linkTrace, linkSpan := l.sc.TraceID(), l.sc.SpanID()
		p = otlp.AppendBytes(p, linkTraceID, linkTrace[:])
		p = otlp.AppendBytes(p, linkSpanID, linkSpan[:])
		if ts := l.sc.TraceState().String(); ts != "" {
			p = otlp.AppendString(p, linkTraceState, ts)
		}
		for _, kv := range l.attrs {
			p = otlp.AppendKeyValue(p, linkAttributes, kv)
		}
		p = otlp.AppendCount(p, linkDroppedAttributes, l.droppedAttrs)
		p = appendFlags(p, linkFlags, l.sc.TraceFlags(), l.sc)
		b = otlp.AppendMessage(b, spanLinks, p)
	}
	b = otlp.AppendCount(b, spanDroppedLinks, s.droppedLinks)
	// The status is always sent, empty when unset, as the SDK's exporter
	// sends it.
	var status []byte
	switch s.status {
	case codes.Ok:
		status = otlp.AppendVarint(status, statusCode, otlpStatusOK)
	case codes.Error:
		if s.statusMessage != "" {
			status = otlp.AppendString(status, statusMessage, s.statusMessage)
		}
		status = otlp.AppendVarint(status, statusCode, otlpStatusError)
	}
	b = otlp.AppendMessage(b, spanStatus, status)
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
