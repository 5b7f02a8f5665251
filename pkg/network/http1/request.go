package http1

import (
	"bytes"
	"net/http"
)

// Request is a request head the fast path read. Its byte slices point
// into the connection's read buffer: they are valid until the exchange
// ends, and must not be kept.
type Request struct {
	header
	// Method and Target are the request line's; Target is in origin form
	// (the fast path declines the others).
	Method, Target []byte
	// Host is the Host field's value (exactly one is required).
	Host []byte
	// RemoteAddr is the client connection's remote address, host:port.
	RemoteAddr string
	// RemoteIP is RemoteAddr's host part.
	RemoteIP string

	framing       framing
	contentLength int64
	// closeAfter: the client asked to close after this exchange.
	closeAfter bool
	// expectContinue: Expect: 100-continue.
	expectContinue bool
	// teTrailers: the client accepts trailers (TE: trailers).
	teTrailers bool
	// headLen is the head's length in the read buffer.
	headLen int
	// head: the method is HEAD, whose answer has no body.
	head bool
}

// Verdict is what the fast path does with a request.
type verdict uint8

const (
	// forward: the head is clear and the fast path handles it.
	forward verdict = iota
	// decline: net/http gets the connection (see doc.go).
	decline
	// refuse: answer status and close the connection.
	refuse
)

// parseRequest parses head (the request head, ending in its empty line)
// into r. It declines what the fast path does not implement and refuses
// (with the status net/http's server would give, or a stricter 400) what
// no server should forward.
func parseRequest(head []byte, r *Request) (v verdict, status int, reason string) {
	r.headLen = len(head)
	i := bytes.Index(head, crlf)
	line := head[:i]
	// method SP request-target SP HTTP-version (RFC 9112 §3).
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return decline, 0, "no request line"
	}
	r.Method = line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return decline, 0, "no protocol version"
	}
	r.Target = rest[:sp2]
	proto := rest[sp2+1:]
	if string(proto) != "HTTP/1.1" {
		// HTTP/1.0 (other keep-alive rules), PRI * HTTP/2.0 (h2c with
		// prior knowledge) and whatever else: net/http answers those.
		return decline, 0, "not HTTP/1.1"
	}
	r.head = string(r.Method) == "HEAD"
	if !isToken(r.Method) {
		return refuse, 400, "invalid method"
	}
	if string(r.Method) == "CONNECT" || string(r.Method) == "PRI" {
		return decline, 0, "tunnel"
	}
	if len(r.Target) == 0 || r.Target[0] != '/' {
		// Absolute, authority and asterisk forms are for proxies and
		// OPTIONS: rare enough for net/http.
		return decline, 0, "target not in origin form"
	}
	if !validOriginTarget(r.Target) {
		return refuse, 400, "invalid request target"
	}
	if !parseFields(head[i+2:], &r.header) {
		if len(r.fields) == maxFields {
			return decline, 0, "too many fields"
		}
		return refuse, 400, "malformed header field"
	}

	var hosts int
	for k := range r.fields {
		if equalFold(r.fields[k].name, "Host") {
			hosts++
			r.Host = r.fields[k].value
		}
	}
	switch {
	case hosts == 0:
		return refuse, 400, "missing required Host header"
	case hosts > 1:
		return refuse, 400, "too many Host headers"
	case !validHost(r.Host):
		return refuse, 400, "malformed Host header"
	}

	var upgrade bool
	r.closeAfter, upgrade = connectionFields(&r.header)
	if upgrade {
		return decline, 0, "upgrade"
	}
	var bad int
	r.framing, r.contentLength, bad = framingFields(&r.header)
	if bad != 0 {
		return refuse, bad, "ambiguous or unsupported message framing"
	}
	if !validTrailerAnnouncement(&r.header) {
		return refuse, 400, "bad Trailer header"
	}
	r.expectContinue = false
	if e := r.Get("Expect"); e != nil {
		if !equalFold(e, "100-continue") || countFields(&r.header, "Expect") > 1 {
			return decline, 0, "expectation"
		}
		r.expectContinue = true
	}
	r.teTrailers = r.hasToken("Te", "trailers")
	return forward, 0, ""
}

func countFields(h *header, name string) int {
	n := 0
	h.Values(name, func([]byte) { n++ })
	return n
}

// validOriginTarget checks an origin-form target as net/http's
// url.ParseRequestURI would take it, and stricter: visible ASCII only,
// and the path's percent signs each followed by two hex digits.
func validOriginTarget(t []byte) bool {
	inQuery := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch {
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery:
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validTrailerAnnouncement refuses a Trailer field naming a field that
// frames the message, as net/http does: a trailer may not change how the
// body it follows was delimited.
func validTrailerAnnouncement(h *header) bool {
	ok := true
	h.Values("Trailer", func(v []byte) {
		tokens(v, func(t []byte) {
			if equalFold(t, "Transfer-Encoding") || equalFold(t, "Trailer") || equalFold(t, "Content-Length") {
				ok = false
			}
		})
	})
	return ok
}

// TraceCarrier reads a request head's fields for a trace context
// propagator (it satisfies OpenTelemetry's propagation.TextMapCarrier
// without this package importing it). A head is read, never written here:
// Set and Keys do nothing.
type TraceCarrier struct{ Request *Request }

// Get returns the value of the first field called key.
func (c TraceCarrier) Get(key string) string { return string(c.Request.Get(key)) }

// Field returns the value of the first field called key as the head
// holds it, for a reader that parses it without a string of it: only
// until the request is answered.
func (c TraceCarrier) Field(key string) []byte { return c.Request.Get(key) }

// Set does nothing: the fast path writes fields with HeaderWriter.
func (TraceCarrier) Set(string, string) {}

// Keys returns nothing: propagators ask for the fields they know.
func (TraceCarrier) Keys() []string { return nil }

// MethodString returns the method as a string, without an allocation
// for the common ones: a proxy's per-request figures and routing want a
// string, and most requests use one of these.
func (r *Request) MethodString() string {
	switch string(r.Method) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodOptions:
		return http.MethodOptions
	}
	return string(r.Method)
}
