package delivery

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"flywheel.dev/pkg/eventing"
)

// headerPrefix starts the name of every binary-mode attribute header but
// datacontenttype's, which is Content-Type.
const headerPrefix = "Ce-"

// encoded is an event in binary mode, made once and sent on every attempt.
type encoded struct {
	header http.Header
	body   []byte
}

// encodeBinary maps an event to CloudEvents HTTP binary mode: each context
// attribute and extension to a ce- header holding its canonical string,
// percent-encoded; datacontenttype to Content-Type; the data to the body.
func encodeBinary(ev *event.Event) (encoded, error) {
	if ev == nil {
		return encoded{}, errors.New("no event")
	}
	if err := ev.Validate(); err != nil {
		return encoded{}, fmt.Errorf("invalid event: %w", err)
	}
	version := spec.VS.Version(ev.SpecVersion())
	if version == nil {
		return encoded{}, fmt.Errorf("unknown specversion %q", ev.SpecVersion())
	}
	h := make(http.Header, len(version.Attributes())+len(ev.Extensions()))
	for _, a := range version.Attributes() {
		v := a.Get(ev.Context)
		if v == nil {
			continue
		}
		s, err := types.Format(v)
		if err != nil {
			return encoded{}, fmt.Errorf("attribute %s: %w", a.Name(), err)
		}
		if a.Kind() == spec.DataContentType {
			// A media type is a header of its own syntax, not a ce- string.
			h.Set("Content-Type", s)
			continue
		}
		h.Set(headerPrefix+a.Name(), encodeHeaderValue(s))
	}
	for name, v := range ev.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return encoded{}, fmt.Errorf("extension %s: %w", name, err)
		}
		if eventing.IsTraceContextExtension(name) {
			// The subscriber continues the event's trace from the W3C
			// header, as the Distributed Tracing extension asks.
			h.Set(name, s)
			continue
		}
		h.Set(headerPrefix+name, encodeHeaderValue(s))
	}
	return encoded{header: h, body: ev.Data()}, nil
}

// mustEncode reports whether the binding's section 3.1.3.2 requires byte c
// of a UTF-8 header value to be percent-encoded: space, double quote,
// percent, and everything outside printable ASCII (every byte of a
// multi-byte character included).
func mustEncode(c byte) bool {
	return c <= ' ' || c >= 0x7f || c == '"' || c == '%'
}

// encodeHeaderValue percent-encodes s for a ce- header, upper-case hex.
func encodeHeaderValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if mustEncode(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if mustEncode(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// decodeHeaderValue undoes encodeHeaderValue as the binding says a
// receiver must: first the quoting of a double-quoted string (older
// senders quote instead of encoding), then one round of percent-decoding,
// refusing what is not UTF-8. A % not followed by two hex digits is kept
// as it is: a lenient reading of senders that do not encode at all.
func decodeHeaderValue(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) {
				i++
			}
			b.WriteByte(inner[i])
		}
		v = b.String()
	}
	if strings.IndexByte(v, '%') >= 0 {
		b := make([]byte, 0, len(v))
		for i := 0; i < len(v); i++ {
			if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
				b = append(b, unhex(v[i+1])<<4|unhex(v[i+2]))
				i += 2
				continue
			}
			b = append(b, v[i])
		}
		v = string(b)
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("%q is not UTF-8 once percent-decoded", v)
	}
	return v, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// replyMode says how a response carries an event, if it does.
type replyMode int

const (
	noEvent replyMode = iota
	binaryMode
	structuredMode
	batchMode
)

// replyModeOf tells from a response's headers whether its body is an event:
// a ce-specversion header means binary mode, a CloudEvents media type
// structured (or batched) mode. Anything else is a plain payload.
func replyModeOf(h http.Header) replyMode {
	switch format.Lookup(h.Get("Content-Type")) {
	case format.JSON:
		return structuredMode
	case format.JSONBatch:
		return batchMode
	}
	if h.Get(headerPrefix+"specversion") != "" {
		return binaryMode
	}
	return noEvent
}

// decodeBinary reads an event from binary-mode headers and body.
func decodeBinary(h http.Header, body []byte) (*event.Event, error) {
	sv, err := decodeHeaderValue(h.Get(headerPrefix + "specversion"))
	if err != nil {
		return nil, fmt.Errorf("specversion: %w", err)
	}
	version := spec.VS.Version(sv)
	if version == nil {
		return nil, fmt.Errorf("unknown specversion %q", sv)
	}
	ev := event.New(sv)
	for key, values := range h {
		if len(key) <= len(headerPrefix) || !strings.EqualFold(key[:len(headerPrefix)], headerPrefix) || len(values) == 0 {
			continue
		}
		name := strings.ToLower(key[len(headerPrefix):])
		v, err := decodeHeaderValue(values[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if a := version.Attribute(name); a != nil {
			if a.Kind() == spec.SpecVersion {
				continue
			}
			if err := a.Set(ev.Context, v); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		if err := ev.Context.SetExtension(name, v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	eventing.TraceContextFromHeader(h, &ev)
	if ct := h.Get("Content-Type"); ct != "" {
		if err := ev.Context.SetDataContentType(ct); err != nil {
			return nil, fmt.Errorf("content type: %w", err)
		}
	}
	if len(body) > 0 {
		ev.DataEncoded = body
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return &ev, nil
}

// decodeStructured reads an event from a structured-mode JSON body.
func decodeStructured(body []byte) (*event.Event, error) {
	ev := event.New()
	if err := ev.UnmarshalJSON(body); err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return &ev, nil
}
