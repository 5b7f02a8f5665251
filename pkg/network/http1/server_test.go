package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testProxy is a fast-path server forwarding to an app, with a net/http
// server behind Declined that says it got the request.
type testProxy struct {
	addr     string
	upstream *Upstream
	srv      *Server
	fallback *http.Server
	// declines counts requests the fallback served.
	mu       sync.Mutex
	declines int
}

// startProxy starts app on loopback and a fast path to it; handle
// decides each request (nil forwards all).
func startProxy(t *testing.T, app http.Handler, handle func(p *testProxy, x *Exchange)) *testProxy {
	t.Helper()
	a := httptest.NewServer(app)
	t.Cleanup(a.Close)
	p := &testProxy{upstream: NewUpstream(a.Listener.Addr().String(), UpstreamOptions{})}
	if handle == nil {
		handle = func(p *testProxy, x *Exchange) { forwardOr502(x, p.upstream, Limits{}) }
	}
	p.srv = NewServer(HandlerFunc(func(x *Exchange) { handle(p, x) }), Options{})
	p.fallback = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			p.declines++
			p.mu.Unlock()
			w.Header().Set("X-Declined", "yes")
			_, _ = io.WriteString(w, "declined "+r.Proto+" "+r.Method+" "+r.RequestURI)
		}),
		Protocols: new(http.Protocols),
	}
	p.fallback.Protocols.SetHTTP1(true)
	p.fallback.Protocols.SetUnencryptedHTTP2(true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	done := make(chan struct{}, 2)
	go func() { _ = p.srv.Serve(l); done <- struct{}{} }()
	go func() { _ = p.fallback.Serve(p.srv.Declined()); done <- struct{}{} }()
	t.Cleanup(func() {
		_ = p.srv.Shutdown(t.Context())
		_ = p.fallback.Close()
		p.upstream.CloseIdleConnections()
		<-done
		<-done
	})
	return p
}

func forwardOr502(x *Exchange, u *Upstream, lim Limits) {
	err := x.Forward(u, lim)
	switch {
	case err == nil || x.Started():
	case errors.Is(err, ErrTimeout):
		x.Respond(http.StatusGatewayTimeout, "text/plain", []byte("timeout\n"))
	default:
		x.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()+"\n"))
	}
}

// rawConn is a client connection speaking raw bytes.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// answer is a response read whole.
type answer struct {
	StatusCode      int
	Header, Trailer http.Header
	// Close: the response said Connection: close.
	Close bool
}

// read reads one response (to a request of method) and its body.
func (c *rawConn) read(method string) (answer, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the response body: %v", err)
	}
	return answer{StatusCode: resp.StatusCode, Header: resp.Header, Trailer: resp.Trailer, Close: resp.Close}, string(b)
}

// closed reports whether the server closed the connection.
func (c *rawConn) closed() bool {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (err != nil && strings.Contains(err.Error(), "reset"))
}

func TestForwardsAndKeepsAlive(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.RequestURI+" "+string(b))
	})
	p := startProxy(t, app, nil)
	c := dialRaw(t, p.addr)
	for i := range 3 {
		c.send("POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		resp, body := c.read("POST")
		if resp.StatusCode != 200 || body != "POST /a?b=c hello" || resp.Close {
			t.Fatalf("exchange %d = %d %q close=%v", i, resp.StatusCode, body, resp.Close)
		}
	}
	if p.declines != 0 {
		t.Errorf("%d requests went to net/http, want none", p.declines)
	}
}

// TestAnAnswerWithoutForwardingKeepsTheConnectionInStep: a handler that
// answers itself (a gateway's 404) before Forward, for a request with no
// body, answers it once; the connection stays open and the next request
// gets its own answer.
func TestAnAnswerWithoutForwardingKeepsTheConnectionInStep(t *testing.T) {
	p := startProxy(t, http.NotFoundHandler(), func(_ *testProxy, x *Exchange) {
		x.Respond(http.StatusNotFound, "text/plain", []byte("no route for "+string(x.Request.Target)+"\n"))
	})
	c := dialRaw(t, p.addr)
	c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != 404 || body != "no route for /first\n" || resp.Close {
		t.Fatalf("first answer = %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	c.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != 404 || body != "no route for /second\n" {
		t.Fatalf("second answer = %d %q, want the second request's", resp.StatusCode, body)
	}
	// Nothing more comes than the two answers.
	_ = c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := c.br.ReadByte(); err == nil {
		t.Errorf("more bytes after the second answer, starting with %q", b)
	}
}

func TestIdleTimeoutClosesAnIdleConnection(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	a := httptest.NewServer(app)
	t.Cleanup(a.Close)
	u := NewUpstream(a.Listener.Addr().String(), UpstreamOptions{})
	srv := NewServer(HandlerFunc(func(x *Exchange) { forwardOr502(x, u, Limits{}) }), Options{IdleTimeout: 100 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })

	c := dialRaw(t, l.Addr().String())
	start := time.Now()
	for range 2 {
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
		}
	}
	if !c.closed() {
		t.Error("the connection stayed open past the idle timeout")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v, want about 100ms", d)
	}
}

func TestWasDeclinedTellsDeclinedConnections(t *testing.T) {
	srv := NewServer(HandlerFunc(func(x *Exchange) { x.Decline() }), Options{})
	type declinedKey struct{}
	fallback := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprint(w, r.Context().Value(declinedKey{}))
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, declinedKey{}, WasDeclined(c))
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	go func() { _ = fallback.Serve(srv.Declined()) }()
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()); _ = fallback.Close() })
	c := dialRaw(t, l.Addr().String())
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := c.read("GET"); body != "true" {
		t.Errorf("WasDeclined = %s for a declined connection, want true", body)
	}
	own, peer := net.Pipe()
	defer own.Close()
	defer peer.Close()
	if WasDeclined(own) {
		t.Error("WasDeclined = true for a connection the fast path never saw")
	}
}
