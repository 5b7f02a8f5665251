package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// serve starts h on loopback speaking HTTP/1.1 and, on the same port,
// cleartext HTTP/2, as the sidecar's listener does.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// chain starts app, and a Proxy to it behind its own listener; it returns
// the proxy's URL.
func chain(t *testing.T, app http.Handler, opts Options) string {
	t.Helper()
	a := serve(t, app)
	p := New(a.Listener.Addr().String(), opts)
	t.Cleanup(p.CloseIdleConnections)
	return serve(t, p).URL
}

func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func h1Client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// seen is what the test app reports about the request it got.
type seen struct {
	Proto       string
	Host        string
	Path        string
	Query       string
	Headers     map[string]string
	RemoteIsLoo bool
}

var echoHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Traceparent", "Tracestate", "X-Custom"}

func echoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Proto: r.Proto, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: map[string]string{}}
		for _, k := range echoHeaders {
			if v := r.Header.Values(k); len(v) > 0 {
				s.Headers[k] = strings.Join(v, " | ")
			}
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.RemoteIsLoo = net.ParseIP(host).IsLoopback()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
}

func get(t *testing.T, c *http.Client, url string, header http.Header) seen {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "hello.default.example.com"
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForwardsRequests(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	tests := []struct {
		name   string
		client func(*testing.T) *http.Client
		h2c    bool
		header http.Header
		want   seen
	}{{
		name:   "http1 client, http1 app",
		client: h1Client,
		header: http.Header{"X-Custom": {"a"}},
		want: seen{Proto: "HTTP/1.1", Host: "hello.default.example.com", Path: "/p/q", Query: "x=1&y=2", RemoteIsLoo: true,
			Headers: map[string]string{
				"X-Custom":          "a",
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "hello.default.example.com",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "for=127.0.0.1;host=hello.default.example.com;proto=http",
			}},
	}, {
		name:   "h2c client, http1 app",
		client: h2cClient,
		want: seen{Proto: "HTTP/1.1", Host: "hello.default.example.com", Path: "/p/q", Query: "x=1&y=2", RemoteIsLoo: true,
			Headers: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "hello.default.example.com",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "for=127.0.0.1;host=hello.default.example.com;proto=http",
			}},
	}, {
		name:   "h2c client, h2c app",
		client: h2cClient,
		h2c:    true,
		want: seen{Proto: "HTTP/2.0", Host: "hello.default.example.com", Path: "/p/q", Query: "x=1&y=2", RemoteIsLoo: true,
			Headers: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "hello.default.example.com",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "for=127.0.0.1;host=hello.default.example.com;proto=http",
			}},
	}, {
		name:   "earlier hops are kept",
		client: h1Client,
		header: http.Header{
			"X-Forwarded-For":   {"203.0.113.7, 10.0.0.1"},
			"X-Forwarded-Host":  {"hello.example.com"},
			"X-Forwarded-Proto": {"https"},
			"Forwarded":         {`for=203.0.113.7;host=hello.example.com;proto=https`},
		},
		want: seen{Proto: "HTTP/1.1", Host: "hello.default.example.com", Path: "/p/q", Query: "x=1&y=2", RemoteIsLoo: true,
			Headers: map[string]string{
				"X-Forwarded-For":   "203.0.113.7, 10.0.0.1, 127.0.0.1",
				"X-Forwarded-Host":  "hello.example.com",
				"X-Forwarded-Proto": "https",
				"Forwarded":         "for=203.0.113.7;host=hello.example.com;proto=https, for=127.0.0.1;host=hello.default.example.com;proto=http",
			}},
	}, {
		name:   "trace context passes",
		client: h1Client,
		header: http.Header{"Traceparent": {parent}, "Tracestate": {"vendor=1"}},
		want: seen{Proto: "HTTP/1.1", Host: "hello.default.example.com", Path: "/p/q", Query: "x=1&y=2", RemoteIsLoo: true,
			Headers: map[string]string{
				"Traceparent":       parent,
				"Tracestate":        "vendor=1",
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "hello.default.example.com",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "for=127.0.0.1;host=hello.default.example.com;proto=http",
			}},
	}, {
		name:   "malformed trace context is dropped",
		client: h1Client,
		header: http.Header{"Traceparent": {"00-nothex-b7ad6b7169203331-01"}, "Tracestate": {"vendor=1"}},
		want: seen{Proto: "HTTP/1.1", Host: "hello.default.example.com", Path: "/p/q", Query: "x=1&y=2", RemoteIsLoo: true,
			Headers: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Host":  "hello.default.example.com",
				"X-Forwarded-Proto": "http",
				"Forwarded":         "for=127.0.0.1;host=hello.default.example.com;proto=http",
			}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := chain(t, echoApp(), Options{H2C: tc.h2c})
			got := get(t, tc.client(t), url+"/p/q?x=1&y=2", tc.header)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("the app saw (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestForwardedElement(t *testing.T) {
	for _, tc := range []struct{ ip, host, want string }{
		{"10.1.2.3", "example.com", "for=10.1.2.3;host=example.com;proto=http"},
		{"::1", "example.com:8080", `for="[::1]";host="example.com:8080";proto=http`},
		{"", "", "proto=http"},
	} {
		if got := forwardedElement(tc.ip, tc.host, "http"); got != tc.want {
			t.Errorf("forwardedElement(%q, %q) = %q, want %q", tc.ip, tc.host, got, tc.want)
		}
	}
}

// TestGRPCStyleTrailers checks what gRPC needs end to end over h2c: a
// streamed body and trailers after it.
func TestGRPCStyleTrailers(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "want HTTP/2, got "+r.Proto, http.StatusHTTPVersionNotSupported)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "Grpc-Status")
		w.Header().Set("Content-Type", "application/grpc")
		_, _ = w.Write(body)
		w.Header().Set("Grpc-Status", "0")
	})
	url := chain(t, app, Options{H2C: true})
	resp, err := h2cClient(t).Post(url+"/pkg.Svc/Method", "application/grpc", strings.NewReader("message"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	got := []string{resp.Proto, resp.Status, string(body), resp.Trailer.Get("Grpc-Status")}
	want := []string{"HTTP/2.0", "200 OK", "message", "0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gRPC-style exchange (-want, +got):\n%s", diff)
	}
}

// TestStreamsResponses checks that each chunk the app flushes reaches the
// client before the app writes the next one.
func TestStreamsResponses(t *testing.T) {
	next := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			_, _ = io.WriteString(w, "chunk\n")
			w.(http.Flusher).Flush()
			if i < 2 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}
	})
	url := chain(t, app, Options{})
	resp, err := h1Client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := rd.ReadString('\n')
		if err != nil || line != "chunk\n" {
			t.Fatalf("chunk %d = %q, %v; want it before the app writes the next", i, line, err)
		}
		if i < 2 {
			next <- struct{}{}
		}
	}
}

// countingReader yields n bytes and counts how many it has given out.
type countingReader struct {
	n    int64
	sent atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	left := c.n - c.sent.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), left)]
	for i := range p {
		p[i] = 'x'
	}
	c.sent.Add(int64(len(p)))
	return len(p), nil
}

// TestStreamsLargeBodies checks that a request body reaches the app while
// the client is still sending it, so the sidecar never holds a body whole.
func TestStreamsLargeBodies(t *testing.T) {
	const size = 64 << 20
	body := &countingReader{n: size}
	var sentAtFirstByte atomic.Int64
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var one [1]byte
		if _, err := io.ReadFull(r.Body, one[:]); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sentAtFirstByte.Store(body.sent.Load())
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "got "+strconv.FormatInt(n+1, 10))
	})
	url := chain(t, app, Options{})
	req, _ := http.NewRequest(http.MethodPost, url, body)
	req.ContentLength = size
	resp, err := h1Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if string(got) != "got "+strconv.Itoa(size) {
		t.Errorf("app answered %q, want all %d bytes", got, size)
	}
	if s := sentAtFirstByte.Load(); s >= size/2 {
		t.Errorf("the client had sent %d of %d bytes when the app saw the first; want the body streamed", s, size)
	}
}

// TestWebSocketUpgrade checks that an Upgrade handshake reaches the app and
// that bytes then flow both ways over the hijacked connection.
func TestWebSocketUpgrade(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		line, _ := rw.ReadString('\n')
		_, _ = rw.WriteString("echo: " + line)
		_ = rw.Flush()
	})
	for _, h2c := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1 app", true: "h2c app"}[h2c], func(t *testing.T) {
			url := chain(t, app, Options{H2C: h2c})
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			rd := bufio.NewReader(conn)
			resp, err := http.ReadResponse(rd, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The body of a 101 is the upgraded connection, closed above.
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake = %s, want 101", resp.Status)
			}
			_, _ = io.WriteString(conn, "hello\n")
			line, err := rd.ReadString('\n')
			if err != nil || line != "echo: hello\n" {
				t.Errorf("after the upgrade got %q, %v; want the app's echo", line, err)
			}
		})
	}
}

func TestAppUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := l.Addr().String()
	l.Close() // nothing listens there now
	p := New(target, Options{})
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), target) {
		t.Errorf("got %d %q, want 502 naming %s", rec.Code, rec.Body, target)
	}
}

func TestCancelledRequestWritesNothing(t *testing.T) {
	p := New("127.0.0.1:1", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if rec.Body.Len() != 0 || rec.Result().Header.Get("Content-Type") != "" {
		t.Errorf("wrote %d %q for a cancelled request; the timeout stage answers those", rec.Code, rec.Body)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("context not cancelled")
	}
}
