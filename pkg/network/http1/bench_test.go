package http1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// BenchmarkForward measures one keep-alive exchange through the fast
// path, and through net/http's ReverseProxy for comparison, to a hello
// app on loopback.
func BenchmarkForward(b *testing.B) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer app.Close()
	target, _ := url.Parse(app.URL)

	up := NewUpstream(target.Host, UpstreamOptions{})
	defer up.CloseIdleConnections()
	fast := NewServer(HandlerFunc(func(x *Exchange) { _ = x.Forward(up, Limits{}) }), Options{})
	fl, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = fast.Serve(fl) }()
	defer func() { _ = fast.Shutdown(b.Context()) }()

	rp := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer rp.Close()

	for _, bc := range []struct{ name, addr string }{
		{"fast", fl.Addr().String()},
		{"reverseproxy", rp.Listener.Addr().String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := net.Dial("tcp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET / HTTP/1.1\r\nHost: hello.example.com\r\nUser-Agent: bench\r\n\r\n")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
