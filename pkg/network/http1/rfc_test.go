package http1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// headerApp answers each request with the fields it received, one
// "Name: value" a line, sorted, Host and framing included.
func headerApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		var lines []string
		for k, vv := range r.Header {
			for _, v := range vv {
				lines = append(lines, k+": "+v)
			}
		}
		for k, vv := range r.Trailer {
			for _, v := range vv {
				lines = append(lines, "trailer "+k+": "+v)
			}
		}
		if len(r.TransferEncoding) > 0 {
			lines = append(lines, "framing: "+strings.Join(r.TransferEncoding, ","))
		}
		sort.Strings(lines)
		_, _ = io.WriteString(w, strings.Join(lines, "\n"))
	})
}

func TestHopByHopFieldsAreNotForwarded(t *testing.T) {
	p := startProxy(t, headerApp(), nil)
	c := dialRaw(t, p.addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n" +
		"Connection: keep-alive, X-Named\r\nX-Named: 1\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nTE: trailers, deflate\r\n" +
		"X-Kept: 2\r\n\r\n")
	_, body := c.read("GET")
	want := "Te: trailers\nX-Kept: 2"
	if body != want {
		t.Errorf("the app saw:\n%s\nwant:\n%s", body, want)
	}
}

// scriptedApp answers every request with the bytes of answer, raw, and
// counts the connections it accepted.
type scriptedApp struct {
	l     net.Listener
	conns atomic.Int32
	// got receives each request the app read, body and trailers read.
	got chan *http.Request
}

func startScripted(t *testing.T, answer func(r *http.Request) string) *scriptedApp {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &scriptedApp{l: l, got: make(chan *http.Request, 100)}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			a.conns.Add(1)
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(strings.NewReader(string(b)))
					a.got <- r
					ans := answer(r)
					if _, err := io.WriteString(nc, ans); err != nil {
						return
					}
					if strings.Contains(ans, "Connection: close") || strings.Contains(ans, "X-Then-Close: 1") {
						return
					}
				}
			}()
		}
	}()
	return a
}

// proxyTo starts a fast path forwarding to addr.
func proxyTo(t *testing.T, addr string, lim Limits) *testProxy {
	t.Helper()
	p := startProxy(t, http.NotFoundHandler(), func(p *testProxy, x *Exchange) { forwardOr502(x, p.upstream, lim) })
	p.upstream = NewUpstream(addr, UpstreamOptions{})
	t.Cleanup(p.upstream.CloseIdleConnections)
	return p
}

func TestResponseHopByHopFieldsAreNotForwarded(t *testing.T) {
	a := startScripted(t, func(*http.Request) string {
		return "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 2\r\nContent-Length: 2\r\n\r\nok"
	})
	p := proxyTo(t, a.l.Addr().String(), Limits{})
	c := dialRaw(t, p.addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.read("GET")
	for _, k := range []string{"Connection", "X-Private", "Keep-Alive"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("the client got %s: %q, a hop-by-hop field", k, v)
		}
	}
	if resp.Header.Get("X-Kept") != "2" || body != "ok" {
		t.Errorf("response = %v %q, want X-Kept and ok", resp.Header, body)
	}
}

func TestChunkedTrailersAreForwarded(t *testing.T) {
	a := startScripted(t, func(r *http.Request) string {
		return "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3;ext=1\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n"
	})
	p := proxyTo(t, a.l.Addr().String(), Limits{})
	c := dialRaw(t, p.addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nTrailer: X-Req\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;name=value\r\nhello\r\n0\r\nX-Req: 7\r\n\r\n")
	resp, body := c.read("POST")
	got := <-a.got
	gotBody, _ := io.ReadAll(got.Body)
	if string(gotBody) != "hello" || got.Trailer.Get("X-Req") != "7" {
		t.Errorf("the app got body %q, trailers %v; want hello and X-Req: 7", gotBody, got.Trailer)
	}
	if body != "abc" || resp.Trailer.Get("X-Sum") != "42" {
		t.Errorf("the client got body %q, trailers %v; want abc and X-Sum: 42", body, resp.Trailer)
	}
}

func TestInterimResponsesAreRelayed(t *testing.T) {
	a := startScripted(t, func(*http.Request) string {
		return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	p := proxyTo(t, a.l.Addr().String(), Limits{})
	c := dialRaw(t, p.addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	hints, _ := c.read("GET")
	final, body := c.read("GET")
	if hints.StatusCode != 103 || hints.Header.Get("Link") != "</style.css>; rel=preload" {
		t.Errorf("first response = %d %v, want 103 with its Link", hints.StatusCode, hints.Header)
	}
	if final.StatusCode != 200 || body != "ok" {
		t.Errorf("final response = %d %q, want 200 ok", final.StatusCode, body)
	}
}

func TestExpectContinue(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	p := startProxy(t, app, nil)

	t.Run("the body waits for 100 Continue", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.send("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		interim, _ := c.read("PUT")
		if interim.StatusCode != 100 {
			t.Fatalf("first answer = %d, want 100 before the body is sent", interim.StatusCode)
		}
		c.send("body")
		resp, body := c.read("PUT")
		if resp.StatusCode != 200 || body != "body" {
			t.Errorf("final = %d %q, want 200 body", resp.StatusCode, body)
		}
	})
	t.Run("a final answer without 100 closes after", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.send("PUT /reject HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		resp, _ := c.read("PUT")
		if resp.StatusCode != 413 || !resp.Close {
			t.Errorf("answer = %d close=%v, want 413 and Connection: close (the body was never read)", resp.StatusCode, resp.Close)
		}
		if !c.closed() {
			t.Error("the connection stayed open with an unread body")
		}
	})
}

func TestResponsesWithoutBody(t *testing.T) {
	a := startScripted(t, func(r *http.Request) string {
		switch r.URL.Path {
		case "/204":
			return "HTTP/1.1 204 No Content\r\n\r\n"
		case "/304":
			return "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" // a HEAD answer
	})
	p := proxyTo(t, a.l.Addr().String(), Limits{})
	c := dialRaw(t, p.addr)
	for _, tc := range []struct{ method, path string }{{"HEAD", "/"}, {"GET", "/204"}, {"GET", "/304"}, {"GET", "/204"}} {
		c.send(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := c.read(tc.method)
		if body != "" || resp.Close {
			t.Errorf("%s %s = %d, body %q, close=%v; want no body, connection kept", tc.method, tc.path, resp.StatusCode, body, resp.Close)
		}
	}
	if n := a.conns.Load(); n != 1 {
		t.Errorf("the app saw %d connections, want 1 kept alive", n)
	}
}

func TestConnectionClose(t *testing.T) {
	a := startScripted(t, func(r *http.Request) string {
		if r.URL.Path == "/app-closes" {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	p := proxyTo(t, a.l.Addr().String(), Limits{})

	t.Run("from the client", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, _ := c.read("GET")
		if !resp.Close || !c.closed() {
			t.Errorf("close=%v; want Connection: close and the connection closed", resp.Close)
		}
	})
	t.Run("from the app", func(t *testing.T) {
		before := a.conns.Load()
		c := dialRaw(t, p.addr)
		c.send("GET /app-closes HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.read("GET"); resp.Close {
			t.Error("the client was told to close: the app's Connection is hop-by-hop")
		}
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "ok" {
			t.Errorf("the next request = %d %q, want 200 ok on the same client connection", resp.StatusCode, body)
		}
		if n := a.conns.Load() - before; n < 1 {
			t.Errorf("the app saw %d new connections, want a new one after it closed its own", n)
		}
	})
}

func TestRefusesAmbiguousRequests(t *testing.T) {
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"duplicate equal Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"differing Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
		{"signed Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400},
		{"Transfer-Encoding not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"chunked not alone", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"two Transfer-Encoding fields", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n", 400},
		{"invalid field name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n", 400},
		{"control character in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\x002\r\n\r\n", 400},
		{"bad percent-encoding in the target", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400},
		{"two Host fields", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
		{"Trailer naming Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startScripted(t, func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
			p := proxyTo(t, a.l.Addr().String(), Limits{})
			c := dialRaw(t, p.addr)
			c.send(tc.req)
			resp, _ := c.read("POST")
			if resp.StatusCode != tc.status || !c.closed() {
				t.Errorf("answer = %d; want %d and the connection closed", resp.StatusCode, tc.status)
			}
			if n := a.conns.Load(); n != 0 {
				t.Errorf("the app was reached (%d connections); nothing may be forwarded", n)
			}
		})
	}
}

func TestRefusesBadChunkedBodies(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"chunk size overflow", "10000000000000000\r\nx\r\n0\r\n\r\n"},
		{"chunk size not hex", "zz\r\nx\r\n0\r\n\r\n"},
		{"bare LF after the size", "1\nx\r\n0\r\n\r\n"},
		{"data longer than its size", "1\r\nxx\r\n0\r\n\r\n"},
		{"extension abuse", strings.Repeat("1;"+strings.Repeat("e", 900)+"\r\nx\r\n", 10) + "0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				if err == nil {
					_, _ = io.WriteString(w, "accepted")
				}
			})
			p := startProxy(t, app, nil)
			c := dialRaw(t, p.addr)
			c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tc.body)
			resp, err := http.ReadResponse(c.br, nil)
			if err == nil {
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if string(b) == "accepted" {
					t.Fatalf("the app accepted the body")
				}
			}
			if !c.closed() {
				t.Error("the connection stayed open after a malformed body")
			}
		})
	}
}

func TestDeclinesToNetHTTP(t *testing.T) {
	p := startProxy(t, http.NotFoundHandler(), nil)
	for _, tc := range []struct{ name, req, want string }{
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", "declined HTTP/1.0 GET /"},
		{"WebSocket upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "declined HTTP/1.1 GET /ws"},
		{"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "options"},
		{"other expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", ""},
		{"bare LF", "GET /lf HTTP/1.1\nHost: x\n\n", "declined HTTP/1.1 GET /lf"},
		{"head larger than the buffer", "GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n", "declined HTTP/1.1 GET /big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			c.send(tc.req)
			resp, body := c.read("GET")
			switch tc.want {
			case "":
				if resp.StatusCode != http.StatusExpectationFailed {
					t.Errorf("answer = %d, want net/http's 417", resp.StatusCode)
				}
				return
			case "options":
				// net/http answers OPTIONS * itself.
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != "0" {
					t.Errorf("answer = %d, want net/http's empty 200", resp.StatusCode)
				}
				return
			}
			if body != tc.want {
				t.Errorf("body = %q, want %q from net/http", body, tc.want)
			}
		})
	}
	t.Run("head over net/http's limit", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		go func() {
			_, _ = io.WriteString(c.nc, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 2<<20)+"\r\n\r\n")
		}()
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("answer = %d, want 431", resp.StatusCode)
		}
	})
	t.Run("h2c with prior knowledge", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + p.addr + "/h2")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "declined HTTP/2.0 GET /h2" {
			t.Errorf("body = %q, want net/http's HTTP/2 answer", b)
		}
	})
}

func TestStreamsResponsesAsTheyCome(t *testing.T) {
	next := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sse" {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "part %d\n", i)
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
	p := startProxy(t, app, nil)
	for _, path := range []string{"/chunked", "/sse"} {
		t.Run(path, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			rd := bufio.NewReader(resp.Body)
			for i := range 3 {
				line, err := rd.ReadString('\n')
				if want := fmt.Sprintf("part %d\n", i); err != nil || line != want {
					t.Fatalf("part %d = %q, %v; want it before the app writes the next", i, line, err)
				}
				if i < 2 {
					next <- struct{}{}
				}
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall-mid" {
			_, _ = io.WriteString(w, "first")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	p := startProxy(t, app, func(p *testProxy, x *Exchange) {
		forwardOr502(x, p.upstream, Limits{ResponseStart: time.Now().Add(100 * time.Millisecond), Idle: 100 * time.Millisecond})
	})
	t.Run("before the response starts", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.send("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.read("GET"); resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("answer = %d, want the caller's 504", resp.StatusCode)
		}
	})
	t.Run("idle mid-response", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.send("GET /stall-mid HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("the body ended cleanly; want the connection broken so the client knows it is cut short")
		}
	})
}

func TestRetriesAStaleUpstreamConnection(t *testing.T) {
	// The app closes each connection after one answer without saying so,
	// as one whose keep-alive timeout just passed.
	a := startScripted(t, func(*http.Request) string { return "HTTP/1.1 200 OK\r\nX-Then-Close: 1\r\nContent-Length: 2\r\n\r\nok" })
	p := proxyTo(t, a.l.Addr().String(), Limits{})
	c := dialRaw(t, p.addr)
	var got []string
	for range 3 {
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := c.read("GET")
		got = append(got, fmt.Sprint(resp.StatusCode, " ", body))
	}
	if diff := cmp.Diff([]string{"200 ok", "200 ok", "200 ok"}, got); diff != "" {
		t.Errorf("answers (-want, +got):\n%s", diff)
	}
	if n := a.conns.Load(); n != 3 {
		t.Errorf("the app saw %d connections, want 3: each stale one replaced", n)
	}
}
