package http1

import (
	"errors"
	"net/http"
	"time"
)

// ErrBodyTooLarge is ReadBody's error for a body past its limit.
var ErrBodyTooLarge = errors.New("http1: request body larger than the limit")

// ContentLength is the request's declared body length: -1 when chunked,
// 0 without a body.
func (r *Request) ContentLength() int64 {
	switch r.framing {
	case chunkedBody:
		return -1
	case lengthBody:
		return r.contentLength
	}
	return 0
}

// Header returns the request's end-to-end fields as an http.Header, for
// a handler that answers a request itself with code written for
// net/http: the hop-by-hop fields and those that frame the body (which
// ReadBody reads by) are left out, as they are of what Forward sends.
func (r *Request) Header() http.Header {
	h := make(http.Header, len(r.fields))
	for i := range r.fields {
		if f := &r.fields[i]; !f.hop && !equalFold(f.name, "Host") {
			name := http.CanonicalHeaderKey(string(f.name))
			h[name] = append(h[name], string(f.value))
		}
	}
	return h
}

// ReadBody reads the whole request body, for a handler that answers the
// request itself (Respond or RespondWith) rather than forwarding it. A
// Content-Length body is read into a slice of exactly its size; a chunked
// one grows to at most limit bytes, past which ReadBody stops with
// ErrBodyTooLarge and the connection closes after the answer (a declared
// length past limit is refused before a byte is read). A request that
// expects 100 Continue gets it first. A client that stops sending for
// the server's ReadHeaderTimeout ends the read with a timeout. After
// ReadBody, only Respond or RespondWith may follow.
func (x *Exchange) ReadBody(limit int64) ([]byte, error) {
	if x.declined || x.finished {
		panic("http1: ReadBody after the request was declined or answered")
	}
	r := &x.Request
	if r.framing == lengthBody && r.contentLength > limit {
		return nil, ErrBodyTooLarge
	}
	if _, err := x.c.br.Discard(r.headLen); err != nil {
		return nil, err // cannot happen: the head is buffered
	}
	x.reqBody.reset(x.c.br, r.framing, r.contentLength)
	if x.reqBody.done {
		return nil, nil
	}
	if r.expectContinue {
		if _, err := x.c.nc.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			x.closeConn = true
			return nil, err
		}
	}
	// The head's deadline also bounds a body that stalls.
	_ = x.c.nc.SetReadDeadline(time.Now().Add(x.c.srv.opts.ReadHeaderTimeout))
	defer func() { _ = x.c.nc.SetReadDeadline(time.Time{}) }()
	var buf []byte
	if r.framing == lengthBody {
		buf = make([]byte, 0, r.contentLength)
	}
	buf, truncated, err := x.reqBody.readAll(buf, int(limit), 0)
	switch {
	case err != nil:
		x.closeConn = true
		return nil, err
	case truncated:
		x.closeConn = true
		return nil, ErrBodyTooLarge
	}
	return buf, nil
}

// RespondWith is Respond with fields of the handler's own (Retry-After,
// Allow), which fields writes; an empty contentType sends neither
// Content-Type nor X-Content-Type-Options, as for a 202 with no body.
func (x *Exchange) RespondWith(status int, contentType string, fields func(h *HeaderWriter), body []byte) {
	if x.declined {
		panic("http1: Respond after Decline")
	}
	if x.started {
		return
	}
	x.answer(status, contentType, fields, body)
}
