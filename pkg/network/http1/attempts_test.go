package http1

import (
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
)

// listAttempts offers its upstreams in order and notes each failure it
// is told of.
type listAttempts struct {
	upstreams []*Upstream
	next      int
	failures  []error
}

func (l *listAttempts) Next(failed error) *Upstream {
	if failed != nil {
		l.failures = append(l.failures, failed)
	}
	if l.next == len(l.upstreams) {
		return nil
	}
	l.next++
	return l.upstreams[l.next-1]
}

func (l *listAttempts) Rewrite(_ *Request, h *HeaderWriter) { h.Add("X-Attempts", "yes") }

// refusingDial fails every connection, as to a pod that is gone, and
// counts the attempts.
type refusingDial struct{ attempts atomic.Int32 }

func (d *refusingDial) dial(context.Context, string, string) (net.Conn, error) {
	d.attempts.Add(1)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused (test)")}
}

func TestForwardAttemptsMovesOnWhenConnectingFails(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+string(b)+" "+r.Header.Get("X-Attempts"))
	})
	live := httptest.NewServer(echo)
	t.Cleanup(live.Close)
	dead := &refusingDial{}

	// Each exchange's attempts and error, once ForwardAttempts returned
	// (after the client has its answer).
	type outcome struct {
		attempts *listAttempts
		err      error
	}
	outcomes := make(chan outcome, 2)
	p := startProxy(t, echo, func(_ *testProxy, x *Exchange) {
		a := &listAttempts{upstreams: []*Upstream{
			NewUpstream("dead-1", UpstreamOptions{Dial: dead.dial}),
			NewUpstream("dead-2", UpstreamOptions{Dial: dead.dial}),
			NewUpstream(live.Listener.Addr().String(), UpstreamOptions{}),
		}}
		if x.Request.Has("X-Only-Dead") {
			a.upstreams = a.upstreams[:2]
		}
		err := x.ForwardAttempts(a, Limits{})
		if err != nil && !x.Started() {
			x.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()))
		}
		outcomes <- outcome{a, err}
	})

	c := dialRaw(t, p.addr)
	// A POST with a body: nothing was sent to the refusing upstreams, so
	// it may go again, body and all.
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npayload")
	resp, body := c.read("POST")
	if resp.StatusCode != http.StatusOK || body != "POST payload yes" {
		t.Errorf("got %d %q, want 200 %q from the third upstream", resp.StatusCode, body, "POST payload yes")
	}
	if resp.Close {
		t.Errorf("the client connection closes after a retried exchange; want it kept alive")
	}
	if o := <-outcomes; len(o.attempts.failures) != 2 || !strings.Contains(o.attempts.failures[0].Error(), "connection refused (test)") {
		t.Errorf("Next was told of failures %v, want the two refused connections", o.attempts.failures)
	}

	// Every upstream refusing: the last failure, marked as connecting.
	c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Only-Dead: 1\r\n\r\n")
	resp, body = c.read("GET")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "connection refused (test)") {
		t.Errorf("got %d %q, want 502 naming the refused connection", resp.StatusCode, body)
	}
	var ue *UpstreamError
	if o := <-outcomes; !errors.As(o.err, &ue) || !ue.Connecting {
		t.Errorf("ForwardAttempts returned %#v, want an *UpstreamError with Connecting set", o.err)
	}
	if n := dead.attempts.Load(); n != 4 {
		t.Errorf("%d connection attempts to the refusing upstreams, want 4 (two per request)", n)
	}
}

func TestForwardAttemptsDoesNotRetryWhatWasSent(t *testing.T) {
	var received atomic.Int32
	crash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		received.Add(1)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	})
	a1, a2 := httptest.NewServer(crash), httptest.NewServer(crash)
	t.Cleanup(a1.Close)
	t.Cleanup(a2.Close)
	// How many upstreams each exchange asked for, once it is over.
	nexts := make(chan int, 1)
	p := startProxy(t, crash, func(_ *testProxy, x *Exchange) {
		a := &listAttempts{upstreams: []*Upstream{
			NewUpstream(a1.Listener.Addr().String(), UpstreamOptions{}),
			NewUpstream(a2.Listener.Addr().String(), UpstreamOptions{}),
		}}
		err := x.ForwardAttempts(a, Limits{})
		defer func() { nexts <- a.next }()
		var ue *UpstreamError
		if errors.As(err, &ue) && ue.Connecting {
			t.Errorf("a request that reached its upstream failed as if connecting had: %v", err)
		}
		if err != nil && !x.Started() {
			x.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()))
		}
	})
	c := dialRaw(t, p.addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npayload")
	if resp, _ := c.read("POST"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if n := received.Load(); n != 1 {
		t.Errorf("the upstreams received the request %d times, want once", n)
	}
	if n := <-nexts; n != 1 {
		t.Errorf("%d upstreams were asked for, want 1", n)
	}
}

func TestForwardAttemptsConnectingPastTheDeadlineIsATimeout(t *testing.T) {
	// An upstream that neither accepts nor refuses, as a host that drops
	// the packets.
	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
	}
	p := startProxy(t, http.NotFoundHandler(), func(_ *testProxy, x *Exchange) {
		a := &listAttempts{upstreams: []*Upstream{NewUpstream("hang", UpstreamOptions{Dial: hang})}}
		err := x.ForwardAttempts(a, Limits{ResponseStart: time.Now().Add(100 * time.Millisecond)})
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("ForwardAttempts = %v, want ErrTimeout", err)
		}
		x.Respond(http.StatusGatewayTimeout, "text/plain", []byte("timeout\n"))
	})
	start := time.Now()
	c := dialRaw(t, p.addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v, want about 100ms: the dial ignored the deadline", d)
	}
}

func TestLimitsEnd(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, "first;")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	p := startProxy(t, app, func(p *testProxy, x *Exchange) {
		err := x.Forward(p.upstream, Limits{End: time.Now().Add(100 * time.Millisecond)})
		switch {
		case errors.Is(err, ErrTimeout):
			x.Respond(http.StatusGatewayTimeout, "text/plain", []byte("timeout\n"))
		case err != nil && !x.Started():
			x.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()))
		}
	})

	t.Run("before the start: ErrTimeout", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.send("GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.read("GET"); resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
	})
	t.Run("after the start: broken off", func(t *testing.T) {
		resp, err := http.Get("http://" + p.addr + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil || string(b) != "first;" {
			t.Errorf("read %q, %v; want the first part, then a broken stream", b, err)
		}
	})
}

func TestStatusIsTheFinalOne(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusTeapot)
	})
	statuses := make(chan int, 2)
	p := startProxy(t, app, func(p *testProxy, x *Exchange) {
		if x.Request.Has("X-Answer") {
			x.Respond(http.StatusAccepted, "text/plain", nil)
		} else {
			forwardOr502(x, p.upstream, Limits{})
		}
		statuses <- x.Status()
	})
	c := dialRaw(t, p.addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.read("GET")
	c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Answer: 1\r\n\r\n")
	c.read("GET")
	if a, b := <-statuses, <-statuses; a != http.StatusTeapot || b != http.StatusAccepted {
		t.Errorf("Status = %d, %d; want 418 (after a 103) and 202", a, b)
	}
}

// rewritingAttempts forwards to one upstream and changes the final
// response's fields.
type rewritingAttempts struct{ oneUpstream }

func (rewritingAttempts) RewriteResponse(h *ResponseHeader, w *HeaderWriter) {
	if h.Kept("X-Secret") {
		h.Drop("X-Secret")
		w.Add("X-Secret-Was", "dropped")
	}
	w.AddEach("X-Echo", h)
}

func TestResponseRewriterChangesTheFinalResponseOnly(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.Header().Set("X-Secret", "s")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("X-Echo", "e")
		_, _ = io.WriteString(w, "ok")
	})
	p := startProxy(t, app, func(p *testProxy, x *Exchange) {
		if err := x.ForwardAttempts(rewritingAttempts{oneUpstream{p.upstream}}, Limits{}); err != nil && !x.Started() {
			x.Respond(http.StatusBadGateway, "text/plain", []byte(err.Error()))
		}
	})
	c := dialRaw(t, p.addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	interim, err := c.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(interim, "HTTP/1.1 103") {
		t.Fatalf("first line %q (%v), want the 103", interim, err)
	}
	var hints []string
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		hints = append(hints, strings.TrimSpace(line))
	}
	if !strings.Contains(strings.Join(hints, "\n"), "X-Secret: s") {
		t.Errorf("the 103's fields %q lack X-Secret: interim responses pass as they are", hints)
	}
	resp, body := c.read("GET")
	if body != "ok" || resp.Header.Get("X-Secret") != "" || resp.Header.Get("X-Secret-Was") != "dropped" {
		t.Errorf("final response %v %q, want X-Secret dropped and X-Secret-Was added", resp.Header, body)
	}
	if v := resp.Header.Values("X-Echo"); len(v) != 2 {
		t.Errorf("X-Echo = %q, want the upstream's value twice (kept, and written again)", v)
	}
}
