package http1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// clientDrainLimit is how much of a response body past what the caller
// keeps is read away so that its connection can carry the next request;
// past it the connection is closed instead, which costs less than
// reading on (as net/http's callers usually drain).
const clientDrainLimit = 64 << 10

// ClientRequest is a request Upstream.Do sends: a whole body in hand.
type ClientRequest struct {
	// Method is the request method, a token.
	Method string
	// Target is the request target in origin form (path and query); ""
	// means "/".
	Target string
	// Host is the Host field's value.
	Host string
	// Header holds the end-to-end fields to send. Fields that frame the
	// message or the connection (Content-Length, Transfer-Encoding,
	// Connection, Host and the other hop-by-hop fields) are not taken:
	// Do writes its own.
	Header http.Header
	// Body is sent with a Content-Length.
	Body []byte
}

// ClientResponse is the final response Upstream.Do read.
type ClientResponse struct {
	Status int
	// Header holds the response's end-to-end fields.
	Header http.Header
	// Body is the start of the body, up to the limit Do was given.
	Body []byte
	// Truncated says the body went on past that limit.
	Truncated bool
}

// errStaleConn marks a kept-alive connection that broke before a byte of
// the answer came: the peer closed it while it was idle.
var errStaleConn = errors.New("http1: the kept-alive connection closed before answering")

// BodyLimit says, from a final response's status and fields, how many
// bytes of its body the caller keeps: a caller that wants the body of a
// reply only reads the body of a reply.
type BodyLimit func(status int, header http.Header) int

// Do sends req to u on a kept-alive connection of u's pool and reads the
// whole response: one write for the request, reads only of the answer,
// no goroutine beside the caller's. It keeps as many bytes of the body
// as limit says (Truncated says there were more), nil limit none, and
// reads away up to 64 KiB more, so that the connection is reused; a
// larger body closes it. Interim (1xx) responses are skipped.
//
// ctx bounds the whole exchange: its deadline is the connection's, and
// its end breaks the connection off; the error then wraps ctx.Err().
//
// A kept-alive connection that breaks before any of the answer came is
// replaced by a new one and the request sent again, once, whatever the
// method: the peer most likely closed it while idle, before reading the
// request. Callers that must not send a request twice do not use Do.
func (u *Upstream) Do(ctx context.Context, req *ClientRequest, limit BodyLimit) (*ClientResponse, error) {
	head, err := appendClientRequest(req)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	uc, reused, err := u.get(deadline)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	for attempt := 0; ; attempt++ {
		resp, keep, err := u.exchange(ctx, uc, head, req.Method == http.MethodHead, limit, deadline)
		if err == nil {
			if keep {
				u.put(uc)
			} else {
				_ = uc.nc.Close()
			}
			return resp, nil
		}
		_ = uc.nc.Close()
		if !errors.Is(err, errStaleConn) || !reused || attempt > 0 || ctx.Err() != nil {
			return nil, ctxErr(ctx, err)
		}
		if uc, err = u.dial(deadline); err != nil {
			return nil, ctxErr(ctx, err)
		}
		reused = false
	}
}

// ctxErr says that a failure came from ctx's end when it did: a deadline
// or a cancellation shows through as a timeout of the socket otherwise.
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && isTimeout(err) && !time.Now().Before(d) {
		// The socket's timer can fire before the context's.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// exchange writes the request on uc and reads the answer. keep says
// whether uc can carry another request.
func (u *Upstream) exchange(ctx context.Context, uc *upConn, out []byte, headRequest bool, bodyLimit BodyLimit, deadline time.Time) (resp *ClientResponse, keep bool, err error) {
	if !deadline.IsZero() {
		_ = uc.nc.SetDeadline(deadline)
		defer func() { _ = uc.nc.SetDeadline(time.Time{}) }()
	}
	if ctx.Done() != nil {
		// Breaking the connection off is the only way to stop a blocked
		// read or write; the connection is not reused after.
		stop := context.AfterFunc(ctx, func() { _ = uc.nc.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				keep = false
			}
		}()
	}
	if _, err := uc.nc.Write(out); err != nil {
		// The peer may have answered before reading it all (413): the
		// answer is read all the same.
		if uc.br.Buffered() == 0 && isTimeout(err) {
			return nil, false, err
		}
	}
	// Any three digits, as net/http's client takes: the caller judges
	// a status it does not know.
	r := response{anyStatus: true}
	for {
		raw, consumed, err := readResponseHead(uc.br)
		if err != nil {
			if !consumed && uc.br.Buffered() == 0 && !isTimeout(err) {
				return nil, false, errors.Join(errStaleConn, err)
			}
			return nil, false, err
		}
		if !parseResponse(raw, headRequest, &r) || r.status == 101 {
			return nil, false, errResponseHead
		}
		if r.status >= 200 {
			resp = &ClientResponse{Status: r.status, Header: make(http.Header, len(r.fields))}
			for i := range r.fields {
				if f := &r.fields[i]; !f.hop {
					name := http.CanonicalHeaderKey(string(f.name))
					resp.Header[name] = append(resp.Header[name], string(f.value))
				}
			}
			if !consumed {
				_, _ = uc.br.Discard(len(raw))
			}
			break
		}
		if !consumed {
			_, _ = uc.br.Discard(len(raw))
		}
	}
	limit := 0
	if bodyLimit != nil {
		limit = max(bodyLimit(resp.Status, resp.Header), 0)
	}
	var b body
	b.reset(uc.br, r.framing, r.length)
	if r.framing == lengthBody {
		resp.Body = make([]byte, 0, min(r.length, int64(limit)))
	}
	resp.Body, resp.Truncated, err = b.readAll(resp.Body, limit, clientDrainLimit)
	if err != nil {
		return nil, false, fmt.Errorf("reading the response body: %w", err)
	}
	return resp, b.done && !r.closeAfter && uc.br.Buffered() == 0, nil
}

// appendClientRequest writes the head and body of req, refusing a field
// that net/http's client would refuse too: a name that is not a token, a
// value with a control character.
func appendClientRequest(req *ClientRequest) ([]byte, error) {
	method, target := req.Method, req.Target
	if method == "" {
		method = http.MethodGet
	}
	if target == "" {
		target = "/"
	}
	if !isToken([]byte(method)) {
		return nil, fmt.Errorf("http1: invalid method %q", method)
	}
	if target[0] != '/' || !validOriginTarget([]byte(target)) {
		return nil, fmt.Errorf("http1: invalid request target %q", target)
	}
	if !validHost([]byte(req.Host)) || req.Host == "" {
		return nil, fmt.Errorf("http1: invalid Host %q", req.Host)
	}
	n := len(method) + len(target) + len(req.Host) + len(req.Body) + 64
	for name, values := range req.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4
		}
	}
	out := make([]byte, 0, n)
	out = append(out, method...)
	out = append(out, ' ')
	out = append(out, target...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, req.Host...)
	out = append(out, '\r', '\n')
	for name, values := range req.Header {
		if !isToken([]byte(name)) {
			return nil, fmt.Errorf("http1: invalid header field name %q", name)
		}
		if isHopByHop([]byte(name)) || equalFold([]byte(name), "Content-Length") || equalFold([]byte(name), "Host") || equalFold([]byte(name), "Trailer") {
			continue
		}
		for _, v := range values {
			if !validFieldValue([]byte(v)) {
				return nil, fmt.Errorf("http1: invalid value for header field %s", name)
			}
			out = append(out, name...)
			out = append(out, ": "...)
			out = append(out, v...)
			out = append(out, '\r', '\n')
		}
	}
	if len(req.Body) > 0 || (method != http.MethodGet && method != http.MethodHead) {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, int64(len(req.Body)), 10)
		out = append(out, '\r', '\n')
	}
	out = append(out, '\r', '\n')
	return append(out, req.Body...), nil
}

// readAll reads the body's data: the first limit bytes appended to dst,
// up to drain more read away. truncated says the data went past limit;
// the body is then done only if it ended within the drain.
func (b *body) readAll(dst []byte, limit, drain int) (data []byte, truncated bool, err error) {
	var scratch [4 << 10]byte
	for !b.done {
		keeping := len(dst) < limit
		var p []byte
		if keeping {
			if cap(dst) == len(dst) {
				dst = append(dst, 0)[:len(dst)]
			}
			p = dst[len(dst):min(cap(dst), limit)]
		} else {
			// A byte at least: a body that ends at limit is not truncated.
			p = scratch[:max(1, min(len(scratch), drain))]
		}
		n, err := b.readData(p)
		if keeping {
			dst = dst[:len(dst)+n]
		} else if n > 0 {
			truncated = true
			if drain -= n; drain < 0 {
				return dst, true, nil
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return dst, truncated, err
		}
	}
	return dst, truncated, nil
}

// readData reads the body's data (a chunked body decoded) into p.
func (b *body) readData(p []byte) (int, error) {
	for {
		if b.done {
			return 0, io.EOF
		}
		if b.kind == chunkedBody && !b.inChunk {
			if err := b.nextChunk(); err != nil {
				return 0, err
			}
			continue
		}
		n := len(p)
		if b.kind != closeBody && int64(n) > b.left {
			n = int(b.left)
		}
		got, err := b.br.Read(p[:n])
		b.left -= int64(got)
		if errors.Is(err, io.EOF) {
			if b.kind == closeBody {
				b.done = true
				if got > 0 {
					return got, nil
				}
				return 0, io.EOF
			}
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return got, err
		}
		switch {
		case b.kind == lengthBody && b.left == 0:
			b.done = true
		case b.kind == chunkedBody && b.left == 0:
			if err := b.endChunk(); err != nil {
				return got, err
			}
		}
		return got, nil
	}
}
