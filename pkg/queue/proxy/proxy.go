package proxy

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"flywheel.dev/pkg/network/forward"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/telemetry/providers"
)

// Options tunes a Proxy.
type Options struct {
	// H2C makes the proxy speak cleartext HTTP/2 to the app (gRPC
	// servers); otherwise it speaks HTTP/1.1 whatever the client used.
	H2C bool
	// MaxIdleConns is how many idle connections to the app are kept. Size
	// it to the app's concurrency: a connection closed after a request
	// costs a TCP handshake on the next one and a TIME_WAIT socket.
	MaxIdleConns int
	// Logger receives errors talking to the app; nil discards them.
	Logger *slog.Logger
}

// bufferSize is the copy buffer for response bodies. 16 KiB moves large
// bodies in few system calls while keeping a sidecar with hundreds of
// streams in flight within its memory budget.
const bufferSize = 16 << 10

// Proxy forwards requests to one app on loopback.
type Proxy struct {
	rp     httputil.ReverseProxy
	target string
	h1, h2 *http.Transport
	// fast is the HTTP/1.1 fast path's pool to the app; nil for an h2c
	// app, which the fast path does not serve.
	fast *http1.Upstream
	log  *slog.Logger
}

// New returns a Proxy to the app at target, a host:port on loopback.
func New(target string, opts Options) *Proxy {
	if opts.MaxIdleConns <= 0 {
		opts.MaxIdleConns = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{target: target, log: opts.Logger}
	p.h1 = newTransport(opts.MaxIdleConns)
	var rt http.RoundTripper = p.h1
	if opts.H2C {
		p.h2 = newTransport(opts.MaxIdleConns)
		p.h2.Protocols = new(http.Protocols)
		p.h2.Protocols.SetUnencryptedHTTP2(true)
		rt = h2cUnlessUpgrade{h1: p.h1, h2: p.h2}
	}
	if !opts.H2C {
		p.fast = http1.NewUpstream(target, http1.UpstreamOptions{
			MaxIdle: opts.MaxIdleConns,
			Rewrite: rewriteHTTP1,
		})
	}
	p.rp = httputil.ReverseProxy{
		Rewrite:   p.rewrite,
		Transport: rt,
		// Zero is not "never": ReverseProxy flushes every write at once
		// when the response has no Content-Length (chunked progress
		// output, gRPC streams) or is text/event-stream, so streams reach
		// the client as the app produces them. A response of known length
		// is written when it is complete, header and body in one system
		// call; flushing each write (-1) cost a second write per request.
		FlushInterval: 0,
		BufferPool:    forward.NewBufferPool(bufferSize),
		ErrorHandler:  p.fail,
		ErrorLog:      slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p
}

// ServeHTTP forwards r to the app and copies its answer back.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.rp.ServeHTTP(w, r)
}

// CloseIdleConnections closes the idle connections to the app, at
// shutdown.
func (p *Proxy) CloseIdleConnections() {
	p.h1.CloseIdleConnections()
	if p.h2 != nil {
		p.h2.CloseIdleConnections()
	}
	if p.fast != nil {
		p.fast.CloseIdleConnections()
	}
}

// Upstream is the app for the HTTP/1.1 fast path (package http1), which
// forwards as ServeHTTP does: the same fields, the same framing rules.
// It is nil when the app speaks h2c, which only net/http serves.
func (p *Proxy) Upstream() *http1.Upstream { return p.fast }

// ForwardFast forwards a fast-path request to the app as x.Forward does.
// When parent names a span, the app gets that span as its parent in
// traceparent (and its tracestate), in place of the caller's; without
// one, the caller's passes as it came.
func (p *Proxy) ForwardFast(parent *providers.TraceFields, x *http1.Exchange, lim http1.Limits) error {
	if !parent.IsSet() {
		return x.Forward(p.fast, lim)
	}
	t := tracedForwards.Get().(*tracedForward)
	t.app, t.parent = p.fast, parent
	err := x.ForwardAttempts(t, lim)
	*t = tracedForward{}
	tracedForwards.Put(t)
	return err
}

// Fail answers a fast-path request the app could not take, as ServeHTTP
// does (502, the error named).
func (p *Proxy) Fail(x *http1.Exchange, err error) {
	p.log.Warn("forwarding to the app failed", "target", p.target, "error", err)
	x.Respond(http.StatusBadGateway, "text/plain; charset=utf-8",
		[]byte("queue-proxy: the app at "+p.target+" did not answer: "+err.Error()+"\n"))
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	// The outbound Host stays the inbound one: the app routes and builds
	// links by the name the client used, not by 127.0.0.1.
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = p.target
	setForwarded(pr.In, pr.Out)
	propagateTrace(pr.In, pr.Out)
}

// fail answers a request the app could not take. A cancelled context
// means the client left or a timeout fired; the timeout stage answers
// those, so nothing is written here.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	p.log.Warn("forwarding to the app failed", "target", p.target, "path", r.URL.Path, "error", err)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write([]byte("queue-proxy: the app at " + p.target + " did not answer: " + err.Error() + "\n"))
}

func newTransport(maxIdle int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        maxIdle,
		MaxIdleConnsPerHost: maxIdle,
		IdleConnTimeout:     90 * time.Second,
		// The client chose the encoding; the proxy passes bytes through
		// and must not ask for gzip on its own behalf.
		DisableCompression: true,
		// Honour Expect: 100-continue end to end: hold the body until the
		// app says it wants it, but not forever.
		ExpectContinueTimeout: time.Second,
	}
}

// h2cUnlessUpgrade sends requests over h2c except protocol upgrades
// (WebSocket), which exist only in HTTP/1.1.
type h2cUnlessUpgrade struct{ h1, h2 *http.Transport }

func (t h2cUnlessUpgrade) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := r.Header["Upgrade"]; ok {
		return t.h1.RoundTrip(r)
	}
	return t.h2.RoundTrip(r)
}

// Target returns the app's address, for logs.
func (p *Proxy) Target() string { return p.target }

// LoopbackTarget returns the address of an app on port of 127.0.0.1.
func LoopbackTarget(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
