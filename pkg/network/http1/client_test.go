package http1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scriptedConn is an upstream connection that answers with fixed bytes
// and takes whatever is written.
type scriptedConn struct {
	net.Conn
	r       *bytes.Reader
	written bytes.Buffer
}

func (c *scriptedConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }
func (c *scriptedConn) Close() error                     { return nil }

// clientRead runs the client's reading of a response to a POST on data,
// keeping every byte of the body.
func clientRead(data []byte) (resp *ClientResponse, keep bool, rest int, err error) {
	sc := &scriptedConn{r: bytes.NewReader(data)}
	uc := &upConn{nc: sc, br: bufio.NewReaderSize(sc, upstreamReadBuffer)}
	u := &Upstream{}
	resp, keep, err = u.exchange(context.Background(), uc, []byte("POST / HTTP/1.1\r\n\r\n"), false,
		func(int, http.Header) int { return 1 << 20 }, time.Time{})
	return resp, keep, uc.br.Buffered() + sc.r.Len(), err
}

// FuzzClientResponse holds the client's reading of a response to
// net/http's: whatever the client takes, net/http reads as the same
// status, end-to-end fields and body; and when the client would carry
// another request on the connection, the response ended where net/http
// says it did.
func FuzzClientResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCe-Id: 1\r\n\r\n2;x=y\r\nok\r\n0\r\nT: v\r\n\r\nHTTP/1.1"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nall of it"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nto the close"))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, keep, rest, err := clientRead(data)
		if err != nil || resp.Truncated {
			return
		}
		br := bufio.NewReader(bytes.NewReader(data))
		var want *http.Response
		for {
			want, err = http.ReadResponse(br, &http.Request{Method: http.MethodPost})
			if err != nil {
				t.Fatalf("the client took a response net/http refuses (%v):\n%q", err, data)
			}
			if want.StatusCode >= 200 {
				break
			}
			_ = want.Body.Close()
		}
		defer want.Body.Close()
		body, err := io.ReadAll(want.Body)
		if err != nil {
			t.Fatalf("the client took a body net/http refuses (%v):\n%q", err, data)
		}
		got := map[string]any{"status": resp.Status, "header": endToEnd(resp.Header, data), "body": string(resp.Body)}
		wanted := map[string]any{"status": want.StatusCode, "header": endToEnd(want.Header, data), "body": string(body)}
		if diff := cmp.Diff(wanted, got); diff != "" {
			t.Fatalf("net/http and the client read the response differently (-net/http, +client):\n%s\n%q", diff, data)
		}
		if keep && br.Buffered() != rest {
			t.Fatalf("the response ends at a different place: net/http leaves %d bytes, the client %d:\n%q", br.Buffered(), rest, data)
		}
	})
}

// FuzzClientRequest holds what the client writes to net/http's server's
// reading of it: the same method, target, Host, fields and body, and
// nothing after.
func FuzzClientRequest(f *testing.F) {
	f.Add("POST", "/a?b=c", "example.com:80", "Ce-Id", "1", []byte("body"))
	f.Add("GET", "/", "h", "Content-Length", "5", []byte(""))
	f.Fuzz(func(t *testing.T, method, target, host, name, value string, body []byte) {
		req := &ClientRequest{Method: method, Target: target, Host: host, Header: http.Header{name: {value}}, Body: body}
		out, err := appendClientRequest(req)
		if err != nil {
			return
		}
		br := bufio.NewReader(bytes.NewReader(out))
		got, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("net/http cannot read the request the client writes (%v):\n%q", err, out)
		}
		gotBody, err := io.ReadAll(got.Body)
		if err != nil {
			t.Fatalf("net/http cannot read the body the client writes (%v):\n%q", err, out)
		}
		// No method is GET, no target "/", as net/http's client has them.
		wantMethod, wantTarget := req.Method, req.Target
		if wantMethod == "" {
			wantMethod = http.MethodGet
		}
		if wantTarget == "" {
			wantTarget = "/"
		}
		if got.Method != wantMethod || got.RequestURI != wantTarget || got.Host != req.Host || !bytes.Equal(gotBody, body) || br.Buffered() != 0 {
			t.Fatalf("net/http reads %s %s Host %q body %q (%d bytes after), want %s %s Host %q body %q:\n%q",
				got.Method, got.RequestURI, got.Host, gotBody, br.Buffered(), wantMethod, wantTarget, req.Host, body, out)
		}
		if framing := isHopByHop([]byte(name)) || equalFold([]byte(name), "Content-Length") || equalFold([]byte(name), "Host") || equalFold([]byte(name), "Trailer"); !framing {
			if gotValue := got.Header.Get(name); gotValue != trimOWSString(value) {
				t.Fatalf("field %s reads %q, want %q:\n%q", name, gotValue, value, out)
			}
		}
	})
}

func trimOWSString(s string) string { return string(trimOWS([]byte(s))) }

// countingServer is a subscriber that counts the connections it takes.
func countingServer(t *testing.T, h http.HandlerFunc) (srv *httptest.Server, conns *atomic.Int64) {
	t.Helper()
	conns = &atomic.Int64{}
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

func post(body string) *ClientRequest {
	return &ClientRequest{Method: http.MethodPost, Target: "/events", Host: "sub", Header: http.Header{"Ce-Id": {"1"}}, Body: []byte(body)}
}

func keepAll(int, http.Header) int { return 1 << 20 }

func TestDoKeepsConnectionsAliveAndReadsTheAnswer(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Ce-Echo", r.Header.Get("Ce-Id"))
		if r.URL.Query().Get("chunked") != "" {
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write(b)
	})
	u := NewUpstream(srv.Listener.Addr().String(), UpstreamOptions{})
	defer u.Close()
	for i, target := range []string{"/events", "/events?chunked=1", "/events"} {
		req := post("hello")
		req.Target = target
		resp, err := u.Do(context.Background(), req, keepAll)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got := []string{string(resp.Body), resp.Header.Get("Ce-Echo")}
		if diff := cmp.Diff([]string{"hello", "1"}, got); diff != "" || resp.Status != http.StatusOK {
			t.Errorf("request %d: status %d, body and echo (-want, +got):\n%s", i, resp.Status, diff)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for three requests in a row, want 1", n)
	}
}

func TestDoKeepsWhatTheLimitSaysAndDrainsTheRest(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small-error":
			http.Error(w, strings.Repeat("e", 1000), http.StatusInternalServerError)
		case "/big":
			_, _ = io.WriteString(w, big)
		}
	})
	u := NewUpstream(srv.Listener.Addr().String(), UpstreamOptions{})
	defer u.Close()
	limit := func(status int, _ http.Header) int {
		if status >= 300 {
			return 10
		}
		return 0
	}
	req := post("")
	req.Target = "/small-error"
	resp, err := u.Do(context.Background(), req, limit)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 500 || string(resp.Body) != "eeeeeeeeee" || !resp.Truncated {
		t.Errorf("got %d %q truncated %t, want 500, the first 10 bytes, truncated", resp.Status, resp.Body, resp.Truncated)
	}
	// Drained within 64 KiB: the connection carries the next request.
	if _, err := u.Do(context.Background(), req, limit); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections after a drained body, want 1", n)
	}
	// Past 64 KiB the connection is closed instead.
	req.Target = "/big"
	for range 2 {
		if _, err := u.Do(context.Background(), req, limit); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after a body past the drain, want 2", n)
	}
}

// A subscriber that closed a kept-alive connection while it was idle
// costs no failed attempt: the request goes again on a new connection.
func TestDoSendsAgainWhenAKeptConnectionWasClosed(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	u := NewUpstream(srv.Listener.Addr().String(), UpstreamOptions{})
	defer u.Close()
	if _, err := u.Do(context.Background(), post("a"), nil); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	resp, err := u.Do(context.Background(), post("b"), nil)
	if err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if resp.Status != http.StatusAccepted || conns.Load() != 2 {
		t.Errorf("status %d over %d connections, want 202 over 2", resp.Status, conns.Load())
	}
}

func TestDoEndsWithItsContext(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	u := NewUpstream(srv.Listener.Addr().String(), UpstreamOptions{})
	defer u.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := u.Do(ctx, post("a"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("past the deadline: %v, want context.DeadlineExceeded", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := u.Do(ctx, post("a"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

func TestDoRefusesWhatNetHTTPRefuses(t *testing.T) {
	for name, req := range map[string]*ClientRequest{
		"a value with a line break": {Method: "POST", Target: "/", Host: "h", Header: http.Header{"Ce-Id": {"1\r\nX: y"}}},
		"a name with a space":       {Method: "POST", Target: "/", Host: "h", Header: http.Header{"Ce Id": {"1"}}},
		"a target with a space":     {Method: "POST", Target: "/a b", Host: "h"},
		"no Host":                   {Method: "POST", Target: "/"},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := appendClientRequest(req); err == nil {
				t.Errorf("written:\n%q", out)
			}
		})
	}
}
