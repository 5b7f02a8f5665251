package sidecar

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
)

// measured is a sidecar whose measure stage counts the requests, and
// those of them that took the fast path.
type measured struct {
	*running
	sidecar *Sidecar
	tracker *stats.Tracker
	fast    atomic.Int32
}

func startMeasured(t *testing.T, cfg queue.Config) *measured {
	t.Helper()
	m := &measured{tracker: stats.NewTracker(clock.RealClock{})}
	s := New(cfg, Options{Measure: func(h http.Handler) http.Handler {
		counted := stats.Handler(h, m.tracker)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := w.(exchangeWriter); ok {
				m.fast.Add(1)
			}
			counted.ServeHTTP(w, r)
		})
	}})
	m.sidecar, m.running = s, startSidecar(t, s)
	return m
}

func TestFastPathServesAndCountsPlainRequests(t *testing.T) {
	a := newApp(t)
	m := startMeasured(t, testConfig(a.port(t)))
	for range 5 {
		if code, body := get(t, m.serving+"/", nil); code != http.StatusOK || body != "hello" {
			t.Fatalf("request = %d %q, want 200 hello", code, body)
		}
	}
	via := http.Header{queue.ViaActivatorHeader: {queue.ViaActivatorValue}}
	if code, _ := get(t, m.serving+"/", via); code != http.StatusOK {
		t.Fatalf("request via the activator = %d, want 200", code)
	}
	if n := m.fast.Load(); n != 6 {
		t.Errorf("%d requests took the fast path, want all 6", n)
	}
	// The response reaches the client just before the request leaves
	// the measure stage.
	poll(t, "every request leaves", func() bool { return m.tracker.Snapshot().InFlightProxied == 0 })
	if n := m.tracker.Snapshot().ProxiedRequests; n != 6 {
		t.Errorf("counted %d proxied requests, want 6", n)
	}
}

// holdTheOnlySlot starts a measured sidecar with one slot and
// queueDepth places in its queue, and a request to the app's /slow that
// holds the slot until a.release is closed; held gets that request's
// status, and has room for one more.
func holdTheOnlySlot(t *testing.T, queueDepth int) (a *app, m *measured, held chan int) {
	t.Helper()
	a = newApp(t)
	cfg := testConfig(a.port(t))
	cfg.ContainerConcurrency = 1
	cfg.QueueDepth = queueDepth
	m = startMeasured(t, cfg)
	held = make(chan int, 2)
	go func() { code, _ := get(t, m.serving+"/slow", nil); held <- code }()
	<-a.started
	return a, m, held
}

// TestFastPathQueuesThroughNetHTTP: with the only slot taken, the next
// request waits in the limiter's queue (declined to the net/http chain),
// the one after is turned away with the limiter's 503 on the fast path,
// and the queued one is served once the slot frees.
func TestFastPathQueuesThroughNetHTTP(t *testing.T) {
	a, m, codes := holdTheOnlySlot(t, 1)
	go func() { code, _ := get(t, m.serving+"/slow", nil); codes <- code }()
	poll(t, "the second request queues", func() bool { return m.tracker.Snapshot().InFlightProxied == 2 })
	if code, body := get(t, m.serving+"/", nil); code != http.StatusServiceUnavailable || !strings.Contains(body, "containerConcurrency") {
		t.Errorf("third request = %d %q, want 503 naming containerConcurrency", code, body)
	}
	close(a.release)
	for range 2 {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("held request = %d, want 200", code)
		}
	}
	if n := m.fast.Load(); n != 2 {
		t.Errorf("%d requests took the fast path, want 2: the first and the refused one; the queued one goes through net/http", n)
	}
}

// TestARefusedRequestKeepsItsConnection: a request the full queue turns
// away gets the limiter's 503 on the fast path, counted by the measure
// stage, and its keep-alive connection serves the client's next request
// on the fast path.
func TestARefusedRequestKeepsItsConnection(t *testing.T) {
	a, m, held := holdTheOnlySlot(t, 0)

	conn, err := net.Dial("tcp", strings.TrimPrefix(m.serving, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// ask sends a request on the one connection and reads the answer.
	ask := func() (code int, body string, closed bool) {
		t.Helper()
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: app\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(b), resp.Close
	}
	if code, body, closed := ask(); code != http.StatusServiceUnavailable || !strings.Contains(body, "containerConcurrency") || closed {
		t.Errorf("refused request = %d %q, Connection: close %v; want 503 naming containerConcurrency, the connection kept", code, body, closed)
	}
	close(a.release)
	if code := <-held; code != http.StatusOK {
		t.Errorf("held request = %d, want 200", code)
	}
	// The held request's response reaches its client just before the
	// request gives its slot back.
	poll(t, "the slot is free", func() bool { inFlight, _ := m.sidecar.limiter.Load(); return inFlight == 0 })
	if code, _, _ := ask(); code != http.StatusOK {
		t.Errorf("the next request on the same connection = %d, want 200", code)
	}
	if n := m.fast.Load(); n != 3 {
		t.Errorf("%d requests took the fast path, want all 3", n)
	}
	poll(t, "every request leaves", func() bool { return m.tracker.Snapshot().InFlightProxied == 0 })
	if n := m.tracker.Snapshot().ProxiedRequests; n != 3 {
		t.Errorf("counted %d proxied requests, want 3: the refused one arrived too", n)
	}
}

// TestAQueuedRequestsConnectionComesBackToTheFastPath: a keep-alive
// connection declined to net/http because its request had to queue is
// closed after that response, so that the client's next request, on a
// new connection, takes the fast path again.
func TestAQueuedRequestsConnectionComesBackToTheFastPath(t *testing.T) {
	a, m, held := holdTheOnlySlot(t, 1)
	keepAlive := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(keepAlive.CloseIdleConnections)
	queued := make(chan *http.Response, 1)
	go func() {
		resp, err := keepAlive.Get(m.serving + "/")
		if err != nil {
			t.Error(err)
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		queued <- resp
	}()
	poll(t, "the second request queues", func() bool { return m.tracker.Snapshot().InFlightProxied == 2 })
	close(a.release)
	if code := <-held; code != http.StatusOK {
		t.Errorf("held request = %d, want 200", code)
	}
	resp := <-queued
	if resp == nil {
		return
	}
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("queued request = %d, Connection: close %v; want 200 and its connection closed", resp.StatusCode, resp.Close)
	}
	before := m.fast.Load()
	if resp, err := keepAlive.Get(m.serving + "/"); err != nil {
		t.Fatal(err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	if got := m.fast.Load() - before; got != 1 {
		t.Errorf("the client's next request took the fast path %d times, want once", got)
	}
}

func TestFastPathIdleTimeoutBreaksAStalledStream(t *testing.T) {
	a := newApp(t)
	cfg := testConfig(a.port(t))
	cfg.IdleTimeout = streamGap / 2
	m := startMeasured(t, cfg)
	resp, err := http.Get(m.serving + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("the stream ended cleanly with %q; want it broken once the app is idle past the timeout", b)
	}
	if !strings.HasPrefix(streamed, string(b)) || len(b) == len(streamed) {
		t.Errorf("got %q, want a strict prefix of %q", b, streamed)
	}
	if n := m.fast.Load(); n != 1 {
		t.Errorf("%d requests took the fast path, want 1", n)
	}
}

func TestFastPathStreams(t *testing.T) {
	a := newApp(t)
	m := startMeasured(t, testConfig(a.port(t)))
	resp, err := http.Get(m.serving + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	begin := time.Now()
	first, err := rd.ReadString(';')
	if err != nil || first != "first;" {
		t.Fatalf("first part = %q, %v", first, err)
	}
	if took := time.Since(begin); took > streamGap/2 {
		t.Errorf("the first part took %v: it waited for the rest", took)
	}
	rest, _ := io.ReadAll(rd)
	if first+string(rest) != streamed {
		t.Errorf("stream = %q, want %q", first+string(rest), streamed)
	}
}

// TestFastPathDrain: at termination a keep-alive connection at rest is
// closed (the client reconnects elsewhere), and a request in flight on
// another finishes before the sidecar stops.
func TestFastPathDrain(t *testing.T) {
	a := newApp(t)
	cfg := testConfig(a.port(t))
	m := startMeasured(t, cfg)
	addr := strings.TrimPrefix(m.serving, "http://")

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idleReader := bufio.NewReader(idle)
	_, _ = io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(idleReader, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)

	inFlight := make(chan int, 1)
	go func() { code, _ := get(t, m.serving+"/slow", nil); inFlight <- code }()
	<-a.started
	m.cancel()

	// Past the drain window, the idle connection closes while the
	// request in flight is still held.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleReader.ReadByte(); err != io.EOF {
		t.Errorf("reading the idle keep-alive connection = %v, want EOF: closed at shutdown", err)
	}
	select {
	case code := <-inFlight:
		t.Fatalf("the request in flight ended (%d) before the app answered", code)
	default:
	}
	close(a.release)
	if code := <-inFlight; code != http.StatusOK {
		t.Errorf("request in flight at termination = %d, want 200", code)
	}
	if n := m.fast.Load(); n != 2 {
		t.Errorf("%d requests took the fast path, want 2", n)
	}
}

// TestDeclinedConnectionsReachNetHTTP: what the fast path declines is
// served by the net/http chain as before: a WebSocket upgrade, h2c with
// prior knowledge, HTTP/1.0.
func TestDeclinedConnectionsReachNetHTTP(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			_, _ = io.WriteString(w, "hello "+r.Proto)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.Copy(c, brw) // echo
	}))
	t.Cleanup(app.Close)
	_, port, _ := net.SplitHostPort(app.Listener.Addr().String())
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	m := startMeasured(t, testConfig(p))
	addr := strings.TrimPrefix(m.serving, "http://")

	t.Run("WebSocket", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close() // a 101 has none: the stream is the connection's
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade = %d, want 101", resp.StatusCode)
		}
		_, _ = io.WriteString(c, "ping")
		echo := make([]byte, 4)
		if _, err := io.ReadFull(br, echo); err != nil || string(echo) != "ping" {
			t.Errorf("echo = %q, %v; want ping", echo, err)
		}
	})
	t.Run("h2c prior knowledge", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(m.serving + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Proto != "HTTP/2.0" || string(b) != "hello HTTP/1.1" {
			t.Errorf("h2c request = %s %q, want HTTP/2.0 to the sidecar and the app's hello", resp.Proto, b)
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "hello HTTP/1.1" {
			t.Errorf("HTTP/1.0 request = %d %q, want the app's hello", resp.StatusCode, b)
		}
	})
	if n := m.fast.Load(); n != 0 {
		t.Errorf("%d declined requests were counted on the fast path", n)
	}
}
