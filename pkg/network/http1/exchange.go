package http1

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// writeBufferSize is the buffer a head and body are gathered in before a
// write: a response up to it leaves in one system call, and a body
// larger streams through it.
const writeBufferSize = 16 << 10

var writeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufferSize)
	return &b
}}

// expectContinueWait is how long a request that expects 100 Continue
// waits for the upstream's interim answer before its body is sent anyway
// (as net/http's transport here does, ExpectContinueTimeout).
const expectContinueWait = time.Second

// Limits bound a forwarded exchange.
type Limits struct {
	// ResponseStart is when the response must have started by: its final
	// head read from upstream. Zero is no bound. Time queued, reading the
	// request body and sending it count.
	ResponseStart time.Time
	// Idle bounds the wait for each read of the response body once it
	// has started; zero is no bound. (Before the start, fold it into
	// ResponseStart.)
	Idle time.Duration
	// End is when the whole exchange must be over, the response body
	// included (a gateway's per-attempt bound): before the response
	// starts it acts as ResponseStart; after, the upstream connection is
	// broken off when it passes. Zero is no bound.
	End time.Time
}

// startBy is the deadline of the response's start: the earlier of
// ResponseStart and End, zero when neither is set.
func (lim Limits) startBy() time.Time {
	if lim.End.IsZero() || (!lim.ResponseStart.IsZero() && lim.ResponseStart.Before(lim.End)) {
		return lim.ResponseStart
	}
	return lim.End
}

// ErrTimeout is Forward's error when Limits.ResponseStart passed before
// the response started: nothing was sent to the client, which the caller
// answers (504).
var ErrTimeout = errors.New("http1: the response did not start in time")

// UpstreamError is Forward's error when the upstream could not be
// reached or broke off before its response started.
type UpstreamError struct {
	Err error
	// Connecting says that no upstream took a connection: nothing of the
	// request was sent anywhere.
	Connecting bool
}

func (e *UpstreamError) Error() string { return "upstream: " + e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

// Exchange is one request on the fast path and what becomes of it.
type Exchange struct {
	// Request is the request head; its slices are valid until Forward or
	// Respond.
	Request Request

	c *conn
	// declined, finished: Decline, or Respond or Forward, was called.
	declined, finished bool
	// started: the final response head went to the client.
	started bool
	// closeConn: the client connection closes after this exchange.
	closeConn bool
	// status is the final status sent to the client, 0 before.
	status   int
	reqBody  body
	respBody body
	resp     response
	out      *[]byte
	// hw is the rewrite's writer, here rather than on the stack: the
	// rewrite is an interface method, which would move it to the heap.
	hw HeaderWriter
	// rewriteResponse is the Attempts of ForwardAttempts when it is a
	// ResponseRewriter, nil otherwise.
	rewriteResponse ResponseRewriter
}

func (x *Exchange) reset() {
	x.declined, x.finished, x.started, x.closeConn = false, false, false, false
	x.status = 0
	x.rewriteResponse = nil
	x.reqBody.br, x.reqBody.done = nil, false
}

func (x *Exchange) buffer() []byte {
	if x.out == nil {
		x.out = writeBuffers.Get().(*[]byte)
	}
	return (*x.out)[:0]
}

// keep stores b back for reuse within the exchange (append may have
// grown it past the pool's size, for a large head: that one is dropped).
func (x *Exchange) keep(b []byte) {
	if cap(b) == writeBufferSize {
		*x.out = b[:0]
	}
}

func (x *Exchange) release() {
	if x.out != nil {
		writeBuffers.Put(x.out)
		x.out = nil
	}
}

// Decline hands the connection to the net/http server, the request
// unread. It must come first, before Respond or Forward.
func (x *Exchange) Decline() {
	if x.finished {
		panic("http1: Decline after the request was answered")
	}
	x.declined = true
}

// Started reports whether the final response has begun on the client
// connection, after which no other answer can be given.
func (x *Exchange) Started() bool { return x.started }

// Status is the status of the final response sent to the client (by
// Respond, or relayed by Forward), 0 before it started.
func (x *Exchange) Status() int { return x.status }

// Respond answers the request itself with status and body. A request
// body not yet read closes the connection after the answer.
func (x *Exchange) Respond(status int, contentType string, body []byte) {
	if x.declined {
		panic("http1: Respond after Decline")
	}
	if x.started {
		return
	}
	x.respond(status, contentType, body)
}

func (x *Exchange) respond(status int, contentType string, body []byte) {
	x.answer(status, contentType, nil, body)
}

// answer writes a whole response of the handler's: fields, when not nil,
// adds its own fields to the head.
func (x *Exchange) answer(status int, contentType string, fields func(h *HeaderWriter), body []byte) {
	x.finished, x.started = true, true
	x.status = status
	r := &x.Request
	if x.reqBody.br == nil {
		// Answered before Forward read past the head: it is still in the
		// read buffer, where the next exchange would read it again.
		_, _ = x.c.br.Discard(r.headLen)
	}
	bodyRead := x.reqBody.br != nil && x.reqBody.done
	if r.closeAfter || (r.framing != noBody && !bodyRead) {
		x.closeConn = true
	}
	out := x.buffer()
	out = appendStatusLine(out, status, nil)
	if contentType != "" {
		out = append(out, "Content-Type: "...)
		out = append(out, contentType...)
		out = append(out, "\r\nX-Content-Type-Options: nosniff\r\n"...)
	}
	if fields != nil {
		x.hw.buf = out
		fields(&x.hw)
		out = x.hw.buf
		x.hw.buf = nil
	}
	out = append(out, "Content-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\nDate: "...)
	out = append(out, httpDate()...)
	out = append(out, '\r', '\n')
	if x.closeConn {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, '\r', '\n')
	if !r.head {
		out = append(out, body...)
	}
	if _, err := x.c.nc.Write(out); err != nil {
		x.closeConn = true
	}
	x.keep(out)
}

// idempotent reports whether a request may be sent again after a
// connection broke without an answer (RFC 9110 §9.2.2; net/http's
// Transport rule, Idempotency-Key included).
func (r *Request) idempotent() bool {
	switch string(r.Method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return r.Has("Idempotency-Key") || r.Has("X-Idempotency-Key")
}

// Attempts chooses the upstream ForwardAttempts sends a request to, and
// another each time connecting fails: a proxy with several endpoints
// behind one name moves on from one that is gone.
type Attempts interface {
	// Next returns the upstream of the next attempt: the first when
	// failed is nil; after a failure to connect (failed says why), when
	// nothing of the request was sent, another; nil to give up.
	Next(failed error) *Upstream
	// Rewrite sets the proxy's own fields on the request, once, whichever
	// upstream takes it (UpstreamOptions.Rewrite for Forward).
	Rewrite(r *Request, h *HeaderWriter)
}

// oneUpstream is the Attempts of Forward: one upstream, one attempt.
type oneUpstream struct{ u *Upstream }

func (o oneUpstream) Next(failed error) *Upstream {
	if failed != nil {
		return nil
	}
	return o.u
}

func (o oneUpstream) Rewrite(r *Request, h *HeaderWriter) {
	if o.u.opts.Rewrite != nil {
		o.u.opts.Rewrite(r, h)
	}
}

// errNoUpstream is the cause of a ForwardAttempts whose Attempts gave no
// upstream at all.
var errNoUpstream = errors.New("http1: no upstream to forward to")

// Forward sends the request to u and relays its response: interim (1xx)
// responses as they come, then the final one. It returns nil when the
// exchange completed. ErrTimeout and *UpstreamError come back with
// nothing sent to the client (Started is false), for the caller to answer;
// any failure after the start has already broken the client connection,
// the only way left to say the response is incomplete.
func (x *Exchange) Forward(u *Upstream, lim Limits) error {
	return x.ForwardAttempts(oneUpstream{u}, lim)
}

// ForwardAttempts is Forward to the upstream a gives, and to the next it
// gives each time connecting fails: nothing of the request has been sent
// then, so any request may go again, whatever its method or body. When a
// gives up, the error is an *UpstreamError with Connecting set, its Err
// the last failure. Any later failure is Forward's: the upstream may have
// acted on the request.
func (x *Exchange) ForwardAttempts(a Attempts, lim Limits) error {
	if x.declined {
		panic("http1: Forward after Decline")
	}
	x.finished = true
	r := &x.Request
	head := r.head
	retryable := r.idempotent()
	expect := r.expectContinue
	nc := x.c.nc

	end := lim.End
	lim.ResponseStart = lim.startBy()
	x.rewriteResponse, _ = a.(ResponseRewriter)
	out := x.appendRequestHead(x.buffer(), a)
	if _, err := x.c.br.Discard(r.headLen); err != nil {
		return err // cannot happen: the head is buffered
	}
	x.reqBody.reset(x.c.br, r.framing, r.contentLength)
	if r.closeAfter {
		x.closeConn = true
	}

	clientDeadline := false
	if !x.reqBody.done && !lim.ResponseStart.IsZero() {
		// Reading the body counts against the start of the response, as
		// in net/http's path, where the timeout runs while it uploads.
		clientDeadline = true
		_ = nc.SetReadDeadline(lim.ResponseStart)
	}
	defer func() {
		if clientDeadline {
			_ = nc.SetReadDeadline(time.Time{})
		}
	}()
	var err error
	if !expect {
		// What of the body came with the head goes with it; a small
		// Content-Length body is awaited whole: one write for both.
		out, err = x.reqBody.fill(out, false)
		for err == nil && !x.reqBody.done && r.framing == lengthBody && x.reqBody.left <= int64(cap(out)-len(out)) {
			out, err = x.reqBody.fill(out, true)
		}
		if err != nil {
			x.closeConn = true
			x.keep(out)
			return x.clientBodyError(err)
		}
	}
	bodyWhole := x.reqBody.done

	u, uc, reused, err := connect(a, nil, lim.ResponseStart)
	if err != nil {
		x.keep(out)
		x.discardUnread()
		return err
	}
	keepUpstream := false
	defer func() {
		if keepUpstream {
			u.put(uc)
		} else {
			_ = uc.nc.Close()
		}
	}()
	// The deadline bounds sending too when the body streams (an app that
	// stops reading it); a request wholly in hand fits the socket's
	// buffer, and only its answer needs watching: one timer, not two.
	setStartDeadline := func(uc *upConn) {
		if lim.ResponseStart.IsZero() {
			return
		}
		if bodyWhole {
			_ = uc.nc.SetReadDeadline(lim.ResponseStart)
		} else {
			_ = uc.nc.SetDeadline(lim.ResponseStart)
		}
	}
	setStartDeadline(uc)

	sent := out
	for attempt := 0; ; attempt++ {
		var werr error
		if _, werr = uc.nc.Write(sent); werr == nil && !expect && !x.reqBody.done {
			// A body larger than the buffer, or still coming: streamed.
			if _, werr = x.reqBody.copyTo(uc.nc, out[:0], nil); errors.Is(werr, errReadBody) {
				x.closeConn = true
				x.keep(out)
				return x.clientBodyError(werr)
			}
		}
		if werr == nil {
			break
		}
		// The upstream closed an idle connection as it was reused: a
		// request wholly in hand goes again on a new one.
		if reused && attempt == 0 && bodyWhole && retryable && !isTimeout(werr) {
			_ = uc.nc.Close()
			if u, uc, reused, err = redial(a, u, lim.ResponseStart); err != nil {
				x.keep(out)
				x.discardUnread()
				return err
			}
			setStartDeadline(uc)
			continue
		}
		if isTimeout(werr) {
			x.closeConn = true
			x.keep(out)
			return ErrTimeout
		}
		// The upstream may have answered before taking the whole body
		// (413, 401): read on, and close the client connection after.
		x.closeConn = true
		break
	}

	// Interim responses, then the final one.
	bodySent := !expect
	// sent keeps the request's bytes for a retry until the first answer;
	// out's room is reused for what goes to the client.
	sent = out
	var waitedContinue, sent100, answered bool
	for {
		if expect && !bodySent && !waitedContinue {
			d := time.Now().Add(expectContinueWait)
			if !lim.ResponseStart.IsZero() && lim.ResponseStart.Before(d) {
				d = lim.ResponseStart
			}
			_ = uc.nc.SetReadDeadline(d)
		}
		raw, consumed, err := readResponseHead(uc.br)
		if err != nil {
			if expect && !bodySent && isTimeout(err) && (lim.ResponseStart.IsZero() || time.Now().Before(lim.ResponseStart)) {
				// The upstream says nothing: send the body anyway, and
				// tell the client to, as net/http's server would.
				waitedContinue = true
				_ = uc.nc.SetReadDeadline(lim.ResponseStart)
				if !sent100 {
					sent100 = true
					if _, err := nc.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
						x.closeConn = true
						x.keep(out)
						return nil
					}
				}
				if err := x.sendBody(uc, out); err != nil {
					return err
				}
				bodySent = true
				continue
			}
			x.keep(out)
			if isTimeout(err) {
				x.closeConn = x.closeConn || !x.reqBody.done
				return ErrTimeout
			}
			if reused && bodyWhole && retryable && !expect && !answered {
				// As net/http's transport: a reused connection that
				// closed without a byte of answer is retried once.
				_ = uc.nc.Close()
				var derr error
				if u, uc, reused, derr = redial(a, u, lim.ResponseStart); derr != nil {
					x.discardUnread()
					return derr
				}
				setStartDeadline(uc)
				if _, werr := uc.nc.Write(sent); werr == nil {
					continue
				}
			}
			x.discardUnread()
			return &UpstreamError{Err: err}
		}
		answered = true
		resp := &x.resp
		if !parseResponse(raw, head, resp) || resp.status == 101 {
			x.keep(out)
			x.discardUnread()
			return &UpstreamError{Err: errResponseHead}
		}
		if resp.status >= 200 {
			out = x.appendResponseHead(out[:0], resp)
			if !consumed {
				_, _ = uc.br.Discard(len(raw))
			}
			break
		}
		// 1xx: relayed at once, then the next head.
		if resp.status == 100 && expect && !bodySent {
			interim := x.appendInterim(out[:0], resp)
			if !consumed {
				_, _ = uc.br.Discard(len(raw))
			}
			if !sent100 {
				sent100 = true
				if _, err := nc.Write(interim); err != nil {
					x.closeConn = true
					x.keep(out)
					return nil
				}
			}
			_ = uc.nc.SetReadDeadline(lim.ResponseStart)
			if err := x.sendBody(uc, out); err != nil {
				return err
			}
			bodySent = true
			continue
		}
		interim := x.appendInterim(out[:0], resp)
		if !consumed {
			_, _ = uc.br.Discard(len(raw))
		}
		if resp.status == 100 && sent100 {
			continue
		}
		if _, err := nc.Write(interim); err != nil {
			x.closeConn = true
			x.keep(out)
			return nil
		}
	}

	// The final response: head, then body, relayed as it comes.
	x.started = true
	resp := &x.resp
	x.status = resp.status
	x.respBody.reset(uc.br, resp.framing, resp.length)
	switch {
	case !lim.ResponseStart.IsZero() && !bodyWhole:
		_ = uc.nc.SetDeadline(time.Time{})
	case !lim.ResponseStart.IsZero() || lim.Idle > 0:
		_ = uc.nc.SetReadDeadline(time.Time{})
	}
	var beforeWait func()
	switch {
	case lim.Idle > 0:
		beforeWait = func() {
			d := time.Now().Add(lim.Idle)
			if !end.IsZero() && end.Before(d) {
				d = end
			}
			_ = uc.nc.SetReadDeadline(d)
		}
	case !end.IsZero():
		_ = uc.nc.SetReadDeadline(end)
	}
	out, err = x.respBody.copyTo(nc, out, beforeWait)
	x.keep(out)
	if err != nil {
		x.closeConn = true
		if errors.Is(err, errReadBody) {
			return &UpstreamError{Err: err}
		}
		return nil // the client left
	}
	if lim.Idle > 0 || !end.IsZero() {
		_ = uc.nc.SetReadDeadline(time.Time{})
	}
	keepUpstream = !resp.closeAfter && x.reqBody.done && uc.br.Buffered() == 0
	if !x.reqBody.done {
		x.closeConn = true
	}
	return nil
}

// sendBody streams the request body after an interim 100 (or the wait
// for one).
func (x *Exchange) sendBody(uc *upConn, out []byte) error {
	if x.reqBody.done {
		return nil
	}
	if _, err := x.reqBody.copyTo(uc.nc, out[:0], nil); err != nil {
		x.closeConn = true
		x.keep(out)
		if errors.Is(err, errReadBody) {
			return x.clientBodyError(err)
		}
		// The upstream stopped reading: its answer may still come.
	}
	return nil
}

// clientBodyError turns a failure reading the request body into Forward's
// error: the deadline of the response start, or the client gone.
func (x *Exchange) clientBodyError(err error) error {
	if isTimeout(err) {
		return ErrTimeout
	}
	return fmt.Errorf("reading the request body: %w", err)
}

// discardUnread marks the client connection to close when its request
// body was not read: what is left of it cannot be told from a request.
func (x *Exchange) discardUnread() {
	if !x.reqBody.done {
		x.closeConn = true
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// appendRequestHead writes the request head as forwarded: the request
// line, Host, the proxy's own fields, the end-to-end fields in their
// order, and the framing of the body as it will be sent.
func (x *Exchange) appendRequestHead(out []byte, a Attempts) []byte {
	r := &x.Request
	out = append(out, r.Method...)
	out = append(out, ' ')
	out = append(out, r.Target...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, r.Host...)
	out = append(out, '\r', '\n')
	r.Drop("Host")
	x.hw.buf = out
	a.Rewrite(r, &x.hw)
	out = x.hw.buf
	x.hw.buf = nil
	out = appendForwarded(out, r.fields)
	if r.teTrailers {
		out = append(out, "Te: trailers\r\n"...)
	}
	switch r.framing {
	case chunkedBody:
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	case lengthBody:
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, r.contentLength, 10)
		out = append(out, '\r', '\n')
	default:
		// As net/http's transport: a body-less request other than GET or
		// HEAD says so, for servers that expect a length.
		if m := string(r.Method); m != "GET" && m != "HEAD" {
			out = append(out, "Content-Length: 0\r\n"...)
		}
	}
	return append(out, '\r', '\n')
}

// appendResponseHead writes the final response head for the client.
func (x *Exchange) appendResponseHead(out []byte, resp *response) []byte {
	out = appendStatusLine(out, resp.status, resp.reason)
	if x.rewriteResponse != nil {
		x.hw.buf = out
		x.rewriteResponse.RewriteResponse((*ResponseHeader)(&resp.header), &x.hw)
		out = x.hw.buf
		x.hw.buf = nil
	}
	hasDate := false
	for i := range resp.fields {
		f := &resp.fields[i]
		if f.hop {
			continue
		}
		if !hasDate && equalFold(f.name, "Date") {
			hasDate = true
		}
		out = appendField(out, f.name, f.value)
	}
	if !hasDate {
		// RFC 9110 §6.6.1: a recipient with a clock adds the Date an
		// origin left out, as net/http's server does.
		out = append(out, "Date: "...)
		out = append(out, httpDate()...)
		out = append(out, '\r', '\n')
	}
	switch resp.framing {
	case lengthBody:
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, resp.length, 10)
		out = append(out, '\r', '\n')
	case chunkedBody, closeBody:
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	case noBody:
		if !resp.bodiless {
			out = append(out, "Content-Length: 0\r\n"...)
		}
	}
	if !x.reqBody.done {
		// What is left of the request body cannot be told from the next
		// request.
		x.closeConn = true
	}
	if x.closeConn || x.c.srv.shuttingDown.Load() {
		x.closeConn = true
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, '\r', '\n')
}

// appendInterim writes an interim (1xx) response for the client.
func (x *Exchange) appendInterim(out []byte, resp *response) []byte {
	out = appendStatusLine(out, resp.status, resp.reason)
	out = appendForwarded(out, resp.fields)
	return append(out, '\r', '\n')
}

// appendForwarded writes the fields that are forwarded, all but those
// marked hop, as "name: value" lines.
func appendForwarded(out []byte, fields []field) []byte {
	for i := range fields {
		if f := &fields[i]; !f.hop {
			out = appendField(out, f.name, f.value)
		}
	}
	return out
}

// appendField writes one "name: value" line.
func appendField(out, name, value []byte) []byte {
	out = append(out, name...)
	out = append(out, ": "...)
	out = append(out, value...)
	return append(out, '\r', '\n')
}

func appendStatusLine(out []byte, status int, reason []byte) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	if len(reason) > 0 {
		return append(append(out, reason...), '\r', '\n')
	}
	return append(append(out, http.StatusText(status)...), '\r', '\n')
}

// dateCache holds the Date value of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	unix int64
	text string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &cachedDate{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}
