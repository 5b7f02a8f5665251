package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/telemetry/providers"
)

// recordingApp records each request's head as the app receives it: the
// request line and every field line, sorted (field order is free).
func recordingApp(t *testing.T) (addr string, heads chan []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	heads = make(chan []string, 10)
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					tp := textproto.NewReader(br)
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					var lines []string
					var length int64
					chunked := false
					for {
						l, err := tp.ReadLine()
						if err != nil {
							return
						}
						if l == "" {
							break
						}
						name, value, _ := strings.Cut(l, ":")
						name, value = textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value)
						lines = append(lines, name+": "+value)
						switch name {
						case "Content-Length":
							length = int64(len(value)) // any non-zero marks a body below
							if value == "0" {
								length = 0
							}
						case "Transfer-Encoding":
							chunked = true
						}
					}
					sort.Strings(lines)
					heads <- append([]string{line}, lines...)
					// The bodies in this test are all "hello".
					switch {
					case chunked:
						_, _ = io.CopyN(io.Discard, br, int64(len("5\r\nhello\r\n0\r\n\r\n")))
					case length > 0:
						_, _ = io.CopyN(io.Discard, br, 5)
					}
					if _, err := io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), heads
}

// fastFront serves the proxy's fast path on loopback.
func fastFront(t *testing.T, p *Proxy) string {
	t.Helper()
	return tracedFastFront(t, p, trace.SpanContext{})
}

// tracedFastFront serves the proxy's fast path on loopback, forwarding
// each request as the sidecar does under its span sc (none when sc is
// invalid).
func tracedFastFront(t *testing.T, p *Proxy, sc trace.SpanContext) string {
	t.Helper()
	var parent providers.TraceFields
	parent.Set(sc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := http1.NewServer(http1.HandlerFunc(func(x *http1.Exchange) {
		if err := p.ForwardFast(&parent, x, http1.Limits{}); err != nil && !x.Started() {
			p.Fail(x, err)
		}
	}), http1.Options{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })
	return l.Addr().String()
}

func exchange(t *testing.T, addr, req string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answer = %d, want the app's 200", resp.StatusCode)
	}
}

// sameHeads sends req through the net/http path and through the fast
// path, and holds the heads the app (recordingApp) receives to be the
// same.
func sameHeads(t *testing.T, heads chan []string, viaNetHTTP, viaFast, req string) {
	t.Helper()
	exchange(t, viaNetHTTP, req)
	want := <-heads
	exchange(t, viaFast, req)
	got := <-heads
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the app's view (-net/http, +fast path):\n%s", diff)
	}
}

// TestFastPathForwardsAsNetHTTP sends each request through the net/http
// path (ReverseProxy) and through the fast path, and holds the heads the
// app receives to be the same: forwarding fields, trace context,
// hop-by-hop removal, framing.
func TestFastPathForwardsAsNetHTTP(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct{ name, fields, body string }{
		{"plain", "User-Agent: t\r\nX-Custom: a\r\nX-Custom: b\r\n", ""},
		{"no user agent", "", ""},
		{"earlier hops", "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Host: hello.example.com\r\nX-Forwarded-Proto: https\r\nForwarded: for=203.0.113.7;proto=https\r\n", ""},
		{"trace context", "Traceparent: " + parent + "\r\nTracestate: vendor=1\r\n", ""},
		{"trace context, bad tracestate", "Traceparent: " + parent + "\r\nTracestate: ===\r\n", ""},
		{"malformed trace context", "Traceparent: 00-nothex-b7ad6b7169203331-01\r\nTracestate: vendor=1\r\n", ""},
		{"tracestate alone", "Tracestate: vendor=1\r\n", ""},
		{"hop-by-hop", "Connection: keep-alive, X-Named\r\nX-Named: 1\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers, gzip\r\nProxy-Authorization: Basic eA==\r\n", ""},
		{"content length", "Content-Length: 5\r\n", "hello"},
		{"chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, heads := recordingApp(t)
			p := New(addr, Options{})
			t.Cleanup(p.CloseIdleConnections)
			viaNetHTTP := strings.TrimPrefix(serve(t, p).URL, "http://")
			viaFast := fastFront(t, p)
			method := "GET"
			if tc.body != "" {
				method = "POST"
			}
			req := method + " /p?q=1 HTTP/1.1\r\nHost: hello.default.example.com\r\n" + tc.fields + "\r\n" + tc.body
			sameHeads(t, heads, viaNetHTTP, viaFast, req)
		})
	}
}

// TestTracedFastPathForwardsAsNetHTTP: under a span of the sidecar's,
// the app sees the same trace context from both paths (the net/http
// path's Tracer.Forward, the fast path's ForwardFast), whatever trace
// context the client sent, for a span with a trace state and without.
func TestTracedFastPathForwardsAsNetHTTP(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	state, err := trace.ParseTraceState("flywheel=1")
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]trace.SpanContext{}
	for name, ts := range map[string]trace.TraceState{"span with a trace state": state, "span without": {}} {
		spans[name] = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
			SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
			TraceFlags: trace.FlagsSampled,
			TraceState: ts,
		})
	}
	tracer := providers.NewTracer(noop.NewTracerProvider(), "t", func() bool { return true })
	for spanName, sc := range spans {
		for _, tc := range []struct{ name, fields string }{
			{"no trace context", ""},
			{"trace context", "Traceparent: " + parent + "\r\nTracestate: vendor=1\r\n"},
			{"tracestate alone", "Tracestate: vendor=1\r\n"},
			{"two traceparents", "Traceparent: " + parent + "\r\nTraceparent: " + parent + "\r\n"},
		} {
			t.Run(spanName+"/"+tc.name, func(t *testing.T) {
				addr, heads := recordingApp(t)
				p := New(addr, Options{})
				t.Cleanup(p.CloseIdleConnections)
				viaNetHTTP := strings.TrimPrefix(serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					p.ServeHTTP(w, tracer.Forward(trace.ContextWithSpanContext(r.Context(), sc), r))
				})).URL, "http://")
				viaFast := tracedFastFront(t, p, sc)
				sameHeads(t, heads, viaNetHTTP, viaFast, "GET /p HTTP/1.1\r\nHost: hello.default.example.com\r\n"+tc.fields+"\r\n")
			})
		}
	}
}
