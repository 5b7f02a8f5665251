package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
)

// echoUpgrade answers a WebSocket handshake with 101 and then echoes
// every line it reads, as a WebSocket server would echo frames; the bytes
// in between are the proxy's business only to pass through.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = io.WriteString(conn, "echo: "+line)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		// Even an h2c backend gets the upgrade over HTTP/1.1, and the rule's
		// request timeout does not cut the upgraded connection.
		ws := newBackend(t, "ws", http.HandlerFunc(echoUpgrade), gt.H2C)
		g := newGateway(t, path, proxy.Options{}, nil)
		rule := gt.Rule(nil, gt.Backend("ws", 80, 1))
		rule.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("200ms"))}
		g.route(rule, ws)

		conn, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = fmt.Fprintf(conn, "GET /socket HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", host)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the handshake answer: %v", err)
		}
		// A 101 has no body: what follows is the upgraded stream.
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusSwitchingProtocols {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("handshake answered %s %q, want 101", resp.Status, b)
		}
		for i := range 3 {
			if i == 2 {
				time.Sleep(400 * time.Millisecond) // past the request timeout
			}
			msg := fmt.Sprintf("message %d\n", i)
			if _, err := io.WriteString(conn, msg); err != nil {
				t.Fatalf("writing %q: %v", msg, err)
			}
			got, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the echo of %q: %v", msg, err)
			}
			if got != "echo: "+msg {
				t.Errorf("got %q, want %q", got, "echo: "+msg)
			}
		}
	})
}

func h2cProtocols() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

func TestH2C(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		// A gRPC-like exchange: HTTP/2 without TLS on both sides, a trailer
		// after the body.
		backendSaw := make(chan string, 1)
		grpc := newBackend(t, "grpc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			backendSaw <- r.Proto
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Trailer", "Grpc-Status")
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
			w.Header().Set("Grpc-Status", "0")
		}), gt.H2C)
		g := newGateway(t, path, proxy.Options{}, func(s *http.Server) {
			var p http.Protocols
			p.SetHTTP1(true)
			p.SetUnencryptedHTTP2(true)
			s.Protocols = &p
		})
		g.route(gt.Rule(nil, gt.Backend("grpc", 80, 1)), grpc)

		client := &http.Client{Transport: &http.Transport{Protocols: h2cProtocols()}}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", g.url+"/pkg.Service/Method", strings.NewReader("frame"))
		req.Host = host
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 {
			t.Errorf("the client got %s from the gateway, want HTTP/2", resp.Proto)
		}
		if got := <-backendSaw; got != "HTTP/2.0" {
			t.Errorf("the backend got %s, want HTTP/2.0 (appProtocol kubernetes.io/h2c)", got)
		}
		if string(body) != "frame" || resp.Trailer.Get("Grpc-Status") != "0" {
			t.Errorf("got body %q and trailer Grpc-Status %q, want frame and 0", body, resp.Trailer.Get("Grpc-Status"))
		}
	})
}

func TestTableSwapKeepsRequestsInFlight(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		started := make(chan struct{})
		release := make(chan struct{})
		old := newBackend(t, "old", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "old start,")
			http.NewResponseController(w).Flush()
			close(started)
			<-release
			_, _ = io.WriteString(w, "old end")
		}))
		replacement := newBackend(t, "new", text("new"))
		g := newGateway(t, path, proxy.Options{}, nil)
		g.route(gt.Rule(nil, gt.Backend("old", 80, 1)), old)

		type result struct {
			code int
			body string
		}
		done := make(chan result, 1)
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", g.url+"/", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- result{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- result{resp.StatusCode, string(b)}
		}()
		<-started

		// The old backend leaves the configuration while it is answering.
		g.route(gt.Rule(nil, gt.Backend("new", 80, 1)), replacement)
		if code, body, _ := g.do(t, nil, "GET", "/", nil); code != 200 || body != "new" {
			t.Errorf("a request after the swap got %d %q, want 200 new", code, body)
		}
		close(release)
		if r := <-done; r.code != 200 || r.body != "old start,old end" {
			t.Errorf("the request in flight during the swap got %d %q, want 200 and the old backend's whole answer", r.code, r.body)
		}
	})
}
