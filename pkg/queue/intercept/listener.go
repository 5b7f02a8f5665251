package intercept

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
)

// ListenerOptions are a Listener's collaborators. The zero value works:
// logs discarded, the real SO_ORIGINAL_DST.
type ListenerOptions struct {
	Logger *slog.Logger
	// OriginalDst reads an accepted connection's original destination;
	// nil means OriginalDst. Tests replace it, as only a redirected
	// connection has one.
	OriginalDst func(net.Conn) (netip.AddrPort, error)
}

// Listener serves the intercept port: its Accept returns only connections
// whose original destination it has read, and refuses the others (see
// Refusals) without returning an error, so that http.Server keeps serving.
type Listener struct {
	net.Listener

	port        uint16
	originalDst func(net.Conn) (netip.AddrPort, error)
	log         *slog.Logger

	selfLoop, noOriginalDst atomic.Uint64
}

// NewListener wraps l, the intercept port's listener. A connection whose
// original destination is l's own port is refused as a loop.
func NewListener(l net.Listener, opts ListenerOptions) *Listener {
	if opts.OriginalDst == nil {
		opts.OriginalDst = OriginalDst
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var port uint16
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		port = uint16(a.Port)
	}
	return &Listener{Listener: l, port: port, originalDst: opts.OriginalDst, log: opts.Logger}
}

// Refusals counts the connections a Listener closed instead of serving.
type Refusals struct {
	// SelfLoop counts connections made to the intercept port itself
	// rather than redirected to it.
	SelfLoop uint64 `json:"selfLoop"`
	// NoOriginalDst counts connections whose original destination could
	// not be read: not IPv4, or unknown to the kernel's connection
	// tracking.
	NoOriginalDst uint64 `json:"noOriginalDst"`
}

// Refused returns the counts of refused connections so far.
func (l *Listener) Refused() Refusals {
	return Refusals{SelfLoop: l.selfLoop.Load(), NoOriginalDst: l.noOriginalDst.Load()}
}

// Accept waits for the next connection it can serve. The returned
// connection carries its original destination: see OriginalDst and
// ConnContext.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		dst, err := l.originalDst(c)
		switch {
		case err != nil:
			// Count before closing: a client that sees the close may
			// look at the count next.
			l.noOriginalDst.Add(1)
			l.log.Warn("refusing a connection to the intercept port: no original destination",
				"remote", c.RemoteAddr().String(), "error", err)
			_ = c.Close()
		case dst.Port() == l.port:
			l.selfLoop.Add(1)
			l.log.Warn("refusing a connection made to the intercept port itself: only redirected connections are served there",
				"remote", c.RemoteAddr().String(), "destination", dst.String())
			_ = c.Close()
		default:
			return withOriginalDst(c, dst), nil
		}
	}
}

// redirected is a connection accepted by a Listener.
type redirected interface {
	originalDst() netip.AddrPort
}

// withOriginalDst attaches dst to c. A *net.TCPConn stays one underneath
// an embedding type, so that http.Server and the proxy keep CloseWrite,
// ReadFrom and WriteTo (splice and sendfile on upgraded connections).
func withOriginalDst(c net.Conn, dst netip.AddrPort) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		return &tcpConn{TCPConn: tc, dst: dst}
	}
	return &conn{Conn: c, dst: dst}
}

type tcpConn struct {
	*net.TCPConn
	dst netip.AddrPort
}

func (c *tcpConn) originalDst() netip.AddrPort { return c.dst }

type conn struct {
	net.Conn
	dst netip.AddrPort
}

func (c *conn) originalDst() netip.AddrPort { return c.dst }

type contextKey struct{}

// ConnContext is an http.Server's ConnContext for a Listener: it puts the
// connection's original destination in the context of each request on it,
// for FromContext.
// A connection wrapped on its way to the server (the sidecar's fast path
// hands the connections it declines to net/http wrapped) is looked
// through with its NetConn method.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for c != nil {
		if r, ok := c.(redirected); ok {
			return context.WithValue(ctx, contextKey{}, r.originalDst())
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	return ctx
}

// FromContext returns the original destination that ConnContext put in
// ctx, and whether there was one.
func FromContext(ctx context.Context) (netip.AddrPort, bool) {
	dst, ok := ctx.Value(contextKey{}).(netip.AddrPort)
	return dst, ok
}
