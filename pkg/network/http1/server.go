package http1

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// readBufferSize is a client connection's read buffer: a request head
// must fit in it to take the fast path (a larger one is declined to
// net/http, which allows 1 MiB and answers 431 beyond). Heads that cross
// a gateway and an activator are well under 2 KiB.
const readBufferSize = 4 << 10

// Handler decides what becomes of each request the fast path reads: it
// calls exactly one of the Exchange's Decline, Respond or Forward.
type Handler interface {
	ServeHTTP1(x *Exchange)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(x *Exchange)

// ServeHTTP1 calls f(x).
func (f HandlerFunc) ServeHTTP1(x *Exchange) { f(x) }

// Options tune a Server.
type Options struct {
	// ReadHeaderTimeout bounds the wait for the rest of a request head
	// once its first byte has arrived, as http.Server's does; 0 means 30s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has waited that
	// long for its next request, as http.Server's does; 0 waits for ever
	// (a sidecar, whose only clients are the platform's proxies, saves
	// the timer).
	IdleTimeout time.Duration
	// Logger receives what is worth knowing about refused requests and
	// broken connections; nil discards it.
	Logger *slog.Logger
}

// Server serves HTTP/1.1 connections on the fast path and hands the
// others to a net/http server through Declined.
type Server struct {
	handler  Handler
	opts     Options
	log      *slog.Logger
	declined *declinedListener

	shuttingDown atomic.Bool
	mu           sync.Mutex
	listeners    map[net.Listener]struct{}
	conns        map[*conn]struct{}
	wg           sync.WaitGroup
}

// NewServer returns a Server that passes each request to h.
func NewServer(h Handler, opts Options) *Server {
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		handler:   h,
		opts:      opts,
		log:       opts.Logger,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}
	s.declined = newDeclinedListener(s)
	return s
}

// Declined is the listener of the connections the fast path declines, for
// an http.Server to serve. Each arrives with the bytes the fast path read
// from it, replayed by its Read, so that net/http sees the whole stream:
// a WebSocket upgrade, an h2c preface, an HTTP/1.0 request. Its Addr is
// that of the first listener served.
func (s *Server) Declined() net.Listener { return s.declined }

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = errors.New("http1: server closed")

// Serve accepts connections on l until Shutdown, each served by a
// goroutine of its own; it returns ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.shuttingDown.Load() {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.declined.setAddr(l.Addr())
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// As http.Server does for a full file table: wait, retry.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accepting a connection failed; retrying", "error", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown.Load() {
		_ = nc.Close()
		return nil
	}
	c := &conn{srv: s, nc: nc}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting connections and closes the idle ones, then
// waits for each busy one to finish its exchange and close, or for ctx to
// end, when it closes them all. Declined connections are the net/http
// server's to drain (shut it down after this one).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shuttingDown.Store(true)
	for l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()

	// Polling as http.Server does: a connection turns idle between two
	// exchanges, and is closed at the next look.
	wait := time.Millisecond
	for {
		if s.closeIdle() {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.mu.Lock()
			for c := range s.conns {
				_ = c.nc.Close()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// closeIdle closes the idle connections and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// A connection is idle while it waits for the first byte of a request,
// active from then until the exchange ends; Shutdown closes only idle
// ones, by compare-and-swap, so that a request that has begun is served.
const (
	stateActive int32 = iota
	stateIdle
	stateClosed
)

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// conn is one client connection on the fast path.
type conn struct {
	srv   *Server
	nc    net.Conn
	br    *bufio.Reader
	state atomic.Int32
	x     Exchange
}

func (c *conn) serve() {
	s := c.srv
	handedOver := false
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic serving a connection", "remote", c.nc.RemoteAddr().String(), "panic", r)
		}
		if !handedOver {
			_ = c.nc.Close()
		}
		if c.br != nil {
			c.br.Reset(nil)
			readerPool.Put(c.br)
			c.br = nil
		}
		c.x.release()
		s.forget(c)
	}()
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	c.x.c = c
	c.x.Request.RemoteAddr = c.nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(c.x.Request.RemoteAddr); err == nil {
		c.x.Request.RemoteIP = host
	}
	for {
		if c.br.Buffered() == 0 {
			c.state.Store(stateIdle)
			if s.shuttingDown.Load() {
				return
			}
			if s.opts.IdleTimeout > 0 {
				_ = c.nc.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
			}
			if _, err := c.br.Peek(1); err != nil {
				return
			}
			if s.opts.IdleTimeout > 0 {
				_ = c.nc.SetReadDeadline(time.Time{})
			}
			if !c.state.CompareAndSwap(stateIdle, stateActive) {
				return // closed by Shutdown
			}
		}
		head, err := c.readHead()
		switch {
		case errors.Is(err, errHeadTooLarge), errors.Is(err, errBareLF):
			handedOver = c.decline()
			return
		case err != nil:
			return
		}
		x := &c.x
		x.reset()
		v, status, reason := parseRequest(head, &x.Request)
		switch v {
		case decline:
			handedOver = c.decline()
			return
		case refuse:
			s.log.Debug("refusing a request", "remote", x.Request.RemoteAddr, "status", status, "reason", reason)
			x.Request.closeAfter = true
			x.respond(status, "text/plain; charset=utf-8", []byte("http1: "+reason+"\n"))
			return
		}
		s.handler.ServeHTTP1(x)
		if x.declined {
			handedOver = c.decline()
			return
		}
		if !x.finished {
			x.Respond(500, "text/plain; charset=utf-8", []byte("http1: the handler gave no answer\n"))
		}
		// The write buffer goes back between exchanges: a connection at
		// rest holds only its read buffer.
		x.release()
		if x.closeConn || s.shuttingDown.Load() {
			return
		}
	}
}

// readHead returns the next request head, in the read buffer, not yet
// consumed: a decline hands it to net/http untouched.
func (c *conn) readHead() ([]byte, error) {
	deadline := false
	defer func() {
		if deadline {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	}()
	return readRequestHead(c.br, func() {
		if !deadline {
			// Only a head that arrived in pieces pays for a deadline.
			deadline = true
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.ReadHeaderTimeout))
		}
	})
}

// readRequestHead returns the head at the start of br's buffer, reading
// more (after beforeWait) until it is whole: errHeadTooLarge when it does
// not fit the buffer, errBareLF for a line ending in LF alone.
func readRequestHead(br *bufio.Reader, beforeWait func()) ([]byte, error) {
	scan := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		end, next, err := scanHead(buf, scan)
		if err != nil {
			return nil, err
		}
		if end > 0 {
			return buf[:end], nil
		}
		scan = next
		if len(buf) == br.Size() {
			return nil, errHeadTooLarge
		}
		beforeWait()
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// decline hands the connection, with what was read of it, to the
// net/http server; it reports whether that server took it.
func (c *conn) decline() bool {
	buffered, _ := c.br.Peek(c.br.Buffered())
	rc := &replayConn{Conn: c.nc, replay: append([]byte(nil), buffered...)}
	return c.srv.declined.hand(rc)
}

// replayConn is a declined connection: its Read returns the bytes the
// fast path had read before the rest of the stream.
type replayConn struct {
	net.Conn
	replay []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// WasDeclined reports whether c is a connection the fast path declined
// (as an http.Server's ConnContext sees it): a handler can close it after
// a request the fast path would not take, so that the client's next
// connection gets another chance on the fast path.
func WasDeclined(c net.Conn) bool {
	_, ok := c.(*replayConn)
	return ok
}

// NetConn returns the underlying connection, for what needs to see it
// (a listener's ConnContext reading the original destination).
func (c *replayConn) NetConn() net.Conn { return c.Conn }

// declinedListener passes declined connections to a net/http server.
type declinedListener struct {
	srv    *Server
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   atomic.Pointer[net.Addr]
}

func newDeclinedListener(s *Server) *declinedListener {
	return &declinedListener{srv: s, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *declinedListener) setAddr(a net.Addr) { l.addr.CompareAndSwap(nil, &a) }

func (l *declinedListener) hand(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *declinedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *declinedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *declinedListener) Addr() net.Addr {
	if a := l.addr.Load(); a != nil {
		return *a
	}
	return &net.TCPAddr{}
}
