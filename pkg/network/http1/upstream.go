package http1

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// upstreamReadBuffer is an upstream connection's read buffer: response
// heads and small bodies. Larger bodies are read past it, straight into
// the write buffer.
const upstreamReadBuffer = 4 << 10

// UpstreamOptions tune an Upstream.
type UpstreamOptions struct {
	// MaxIdle is how many idle connections are kept; 0 means 100. Size it
	// to the upstream's concurrency: a connection closed after a request
	// costs a handshake on the next and a TIME_WAIT socket.
	MaxIdle int
	// IdleTimeout closes a connection idle for longer; 0 means 90s, as
	// net/http's transport in this repository.
	IdleTimeout time.Duration
	// DialTimeout bounds connecting; 0 means 5s.
	DialTimeout time.Duration
	// Dial connects to the upstream; nil uses a net.Dialer with
	// DialTimeout. The context ends at the request's deadline, if any.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Rewrite sets the proxy's own fields on each request forwarded
	// (X-Forwarded-For and the like); nil adds none.
	Rewrite func(r *Request, h *HeaderWriter)
}

// Upstream is one server the fast path forwards to, with its pool of
// keep-alive connections.
type Upstream struct {
	addr   string
	opts   UpstreamOptions
	dialer net.Dialer

	mu     sync.Mutex
	idle   []*upConn // most recently used last
	closed bool
}

// NewUpstream returns an Upstream for the server at addr (host:port).
func NewUpstream(addr string, opts UpstreamOptions) *Upstream {
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 100
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 90 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	return &Upstream{
		addr:   addr,
		opts:   opts,
		dialer: net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second},
	}
}

// Addr is the upstream's address.
func (u *Upstream) Addr() string { return u.addr }

type upConn struct {
	nc     net.Conn
	br     *bufio.Reader
	idleAt time.Time
}

// get returns an idle connection, the most recently used (its peer is
// least likely to have timed it out), or dials a new one, by deadline
// when it is not zero.
func (u *Upstream) get(deadline time.Time) (uc *upConn, reused bool, err error) {
	now := time.Now()
	u.mu.Lock()
	for len(u.idle) > 0 {
		uc = u.idle[len(u.idle)-1]
		u.idle = u.idle[:len(u.idle)-1]
		if now.Sub(uc.idleAt) < u.opts.IdleTimeout {
			u.mu.Unlock()
			return uc, true, nil
		}
		_ = uc.nc.Close()
	}
	u.mu.Unlock()
	uc, err = u.dial(deadline)
	return uc, false, err
}

func (u *Upstream) dial(deadline time.Time) (*upConn, error) {
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	var nc net.Conn
	var err error
	if u.opts.Dial != nil {
		ctx, cancel := context.WithTimeout(ctx, u.opts.DialTimeout)
		nc, err = u.opts.Dial(ctx, "tcp", u.addr)
		cancel()
	} else {
		nc, err = u.dialer.DialContext(ctx, "tcp", u.addr)
	}
	if err != nil {
		return nil, err
	}
	return &upConn{nc: nc, br: bufio.NewReaderSize(nc, upstreamReadBuffer)}, nil
}

// connect returns a connection to the upstream a gives, asking it for
// another each time connecting fails (failed is the previous failure, nil
// at first). A deadline that passes while connecting is ErrTimeout.
func connect(a Attempts, failed error, deadline time.Time) (*Upstream, *upConn, bool, error) {
	for {
		u := a.Next(failed)
		if u == nil {
			if failed == nil {
				failed = errNoUpstream
			}
			return nil, nil, false, &UpstreamError{Err: failed, Connecting: true}
		}
		uc, reused, err := u.get(deadline)
		if err == nil {
			return u, uc, reused, nil
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil, nil, false, ErrTimeout
		}
		failed = err
	}
}

// redial replaces a reused connection that broke before it carried the
// request: a new one to u, or, when connecting to u fails, to the next
// upstream a gives.
func redial(a Attempts, u *Upstream, deadline time.Time) (*Upstream, *upConn, bool, error) {
	uc, err := u.dial(deadline)
	if err == nil {
		return u, uc, false, nil
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return nil, nil, false, ErrTimeout
	}
	return connect(a, err, deadline)
}

// put returns a connection to the pool, or closes it if the pool is full
// or closed. The oldest idle connection is closed when it has outlived
// the idle timeout, so that connections the upstream closed do not linger.
func (u *Upstream) put(uc *upConn) {
	uc.idleAt = time.Now()
	u.mu.Lock()
	if u.closed || len(u.idle) >= u.opts.MaxIdle {
		u.mu.Unlock()
		_ = uc.nc.Close()
		return
	}
	u.idle = append(u.idle, uc)
	var stale *upConn
	if oldest := u.idle[0]; uc.idleAt.Sub(oldest.idleAt) >= u.opts.IdleTimeout {
		stale = oldest
		u.idle = append(u.idle[:0], u.idle[1:]...)
	}
	u.mu.Unlock()
	if stale != nil {
		_ = stale.nc.Close()
	}
}

// Close closes the idle connections and keeps none from then on: the
// upstream is gone from the proxy's configuration. Requests still in
// flight finish, each on its own connection, closed after.
func (u *Upstream) Close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.CloseIdleConnections()
}

// CloseIdleConnections closes the idle connections.
func (u *Upstream) CloseIdleConnections() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.mu.Unlock()
	for _, uc := range idle {
		_ = uc.nc.Close()
	}
}

// HeaderWriter appends header fields to a head being written.
type HeaderWriter struct{ buf []byte }

// Add appends the field name: value. Neither may hold CR or LF; the
// caller builds them from validated input.
func (w *HeaderWriter) Add(name, value string) {
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ": "...)
	w.buf = append(w.buf, value...)
	w.buf = append(w.buf, '\r', '\n')
}

// AddBytes is Add for a value held as bytes (one of the request's own).
func (w *HeaderWriter) AddBytes(name string, value []byte) {
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ": "...)
	w.buf = append(w.buf, value...)
	w.buf = append(w.buf, '\r', '\n')
}

// AddJoined appends name: with the values of every field called name in
// r, joined by ", ", then last: a list field with one more element.
func (w *HeaderWriter) AddJoined(name string, r *Request, last string) {
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ": "...)
	r.Values(name, func(v []byte) {
		w.buf = append(w.buf, v...)
		w.buf = append(w.buf, ", "...)
	})
	w.buf = append(w.buf, last...)
	w.buf = append(w.buf, '\r', '\n')
}

// FieldValues is a head's fields, for AddEach: a Request, or a
// ResponseHeader.
type FieldValues interface {
	// Values calls fn with the value of each field called name, in
	// order, whether it is forwarded or not.
	Values(name string, fn func(value []byte))
}

// AddEach appends one name: value line for each field called name in r.
func (w *HeaderWriter) AddEach(name string, r FieldValues) {
	r.Values(name, func(v []byte) {
		w.buf = append(w.buf, name...)
		w.buf = append(w.buf, ": "...)
		w.buf = append(w.buf, v...)
		w.buf = append(w.buf, '\r', '\n')
	})
}

// Drop keeps every field called name from being forwarded: the rewrite
// sets its own.
func (r *Request) Drop(name string) { r.drop(name) }

// Kept reports whether a field called name is to be forwarded: present,
// and neither hop-by-hop nor dropped.
func (r *Request) Kept(name string) bool { return r.kept(name) }

func (h *header) drop(name string) {
	for i := range h.fields {
		if equalFold(h.fields[i].name, name) {
			h.fields[i].hop = true
		}
	}
}

func (h *header) kept(name string) bool {
	for i := range h.fields {
		if !h.fields[i].hop && equalFold(h.fields[i].name, name) {
			return true
		}
	}
	return false
}

// ResponseHeader is the fields of the final response from upstream, for
// a ResponseRewriter: it may drop some, and write others in their place.
type ResponseHeader header

// Values calls fn with the value of each field called name, in order.
func (h *ResponseHeader) Values(name string, fn func(value []byte)) { (*header)(h).Values(name, fn) }

// Drop keeps every field called name from reaching the client.
func (h *ResponseHeader) Drop(name string) { (*header)(h).drop(name) }

// Kept reports whether a field called name is to reach the client.
func (h *ResponseHeader) Kept(name string) bool { return (*header)(h).kept(name) }

// ResponseRewriter is an Attempts that also changes the final response's
// fields (interim ones pass as they are, as net/http's reverse proxy
// passes them): it drops fields of h and writes its own to w. It must not
// touch the fields that frame the message or the connection.
type ResponseRewriter interface {
	RewriteResponse(h *ResponseHeader, w *HeaderWriter)
}
