package process

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// component is a component's servers on loopback ports, with a request
// handler that answers "ok", or holds the request while hold is open for
// the paths under /slow.
type component struct {
	t       *testing.T
	health  *Health
	admin   string
	serve   string
	clock   *clocktesting.FakeClock
	drained atomic.Bool
	// drainedHolds makes Drained wait out the shutdown timeout, as a
	// fast path with a request in flight would; set before stop.
	drainedHolds bool
	hold         chan struct{}
	holding      atomic.Int32
	done         chan error
	stop         context.CancelFunc
}

func startComponent(t *testing.T, drainWindow, shutdownTimeout time.Duration, failed <-chan error) *component {
	t.Helper()
	c := &component{
		t: t, health: NewHealth("routes not loaded yet"), clock: clocktesting.NewFakeClock(time.Now()),
		hold: make(chan struct{}), done: make(chan error, 1),
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.admin, c.serve = "http://"+admin.Addr().String(), "http://"+ln.Addr().String()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			c.holding.Add(1)
			<-c.hold
		}
		_, _ = io.WriteString(w, "ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go func() {
		c.done <- Servers{
			Admin:           admin,
			Health:          c.health,
			Serve:           []Server{{HTTP: &http.Server{Handler: handler, ReadHeaderTimeout: time.Second}, Listener: ln}},
			ServingMessage:  "serving",
			DrainWindow:     drainWindow,
			ShutdownTimeout: shutdownTimeout,
			Failed:          failed,
			Drained: func(ctx context.Context) {
				c.drained.Store(true)
				if c.drainedHolds {
					<-ctx.Done()
				}
			},
			Clock: c.clock,
		}.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.hold:
		default:
			close(c.hold)
		}
	})
	return c
}

// get returns the status code and body of a GET on a new connection, or
// 0 and the error.
func get(url string) (int, string) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func (c *component) readyz() (int, string) { return get(c.admin + "/readyz") }

func (c *component) returned() bool {
	select {
	case err := <-c.done:
		c.done <- err
		return true
	default:
		return false
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDrainOrder follows a component from start to exit: not ready and
// not serving until loaded; on the stop signal not ready at once while
// still serving new and in-flight requests for the whole drain window;
// then no new connections, the request in flight finished, and Run's
// return.
func TestDrainOrder(t *testing.T) {
	const window = 10 * time.Second
	c := startComponent(t, window, 30*time.Second, nil)

	if code, body := c.readyz(); code != http.StatusServiceUnavailable || body != "routes not loaded yet" {
		t.Errorf("/readyz before loading = %d %q, want 503 \"routes not loaded yet\"", code, body)
	}
	if code, _ := get(c.admin + "/livez"); code != http.StatusOK {
		t.Errorf("/livez before loading = %d, want 200", code)
	}
	c.health.MarkLoaded()
	waitFor(t, "/readyz to pass once loaded", func() bool { code, _ := c.readyz(); return code == http.StatusOK })
	if code, body := get(c.serve + "/"); code != http.StatusOK || body != "ok" {
		t.Fatalf("a request once loaded = %d %q, want 200 ok", code, body)
	}

	inFlight := make(chan int, 1)
	go func() { code, _ := get(c.serve + "/slow"); inFlight <- code }()
	waitFor(t, "the request in flight", func() bool { return c.holding.Load() == 1 })
	c.stop()
	waitFor(t, "/readyz to fail once stopped", func() bool { code, _ := c.readyz(); return code == http.StatusServiceUnavailable })
	if code, body := c.readyz(); body != "draining" {
		t.Errorf("/readyz while draining = %d %q, want 503 draining", code, body)
	}
	if code, _ := get(c.admin + "/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz while draining = %d, want 503, as /readyz", code)
	}
	waitFor(t, "the drain window to start", func() bool { return c.clock.HasWaiters() })
	if code, body := get(c.serve + "/"); code != http.StatusOK || body != "ok" {
		t.Errorf("a new request in the drain window = %d %q, want 200 ok", code, body)
	}
	if c.drained.Load() || c.returned() {
		t.Fatal("the servers shut down before the drain window ended")
	}

	c.clock.Step(window)
	waitFor(t, "new connections refused after the drain window", func() bool { code, _ := get(c.serve + "/"); return code == 0 })
	if !c.drained.Load() {
		t.Error("Drained did not run before the servers shut down")
	}
	if c.returned() {
		t.Fatal("Run returned with a request in flight")
	}
	close(c.hold)
	if code := <-inFlight; code != http.StatusOK {
		t.Errorf("the request in flight at the stop signal = %d, want 200", code)
	}
	if err := <-c.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if code, _ := get(c.admin + "/livez"); code != 0 {
		t.Errorf("/livez after Run returned = %d, want the connection refused", code)
	}
}

// TestShutdownTimeoutCutsRequestsInFlight: past the shutdown timeout a
// request still in flight loses its connection and Run returns.
func TestShutdownTimeoutCutsRequestsInFlight(t *testing.T) {
	c := startComponent(t, -1, 50*time.Millisecond, nil)
	c.health.MarkLoaded()
	waitFor(t, "/readyz to pass once loaded", func() bool { code, _ := c.readyz(); return code == http.StatusOK })
	inFlight := make(chan int, 1)
	go func() { code, _ := get(c.serve + "/slow"); inFlight <- code }()
	waitFor(t, "the request in flight", func() bool { return c.holding.Load() == 1 })
	c.stop()
	if err := <-c.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if code := <-inFlight; code != 0 {
		t.Errorf("the request in flight past the shutdown timeout = %d, want its connection closed", code)
	}
}

// TestOneShutdownTimeoutForDrainedAndServers: what Drained stops and
// the servers share the one shutdown deadline; Drained using all of it
// leaves the servers none, rather than a timeout of their own after it.
func TestOneShutdownTimeoutForDrainedAndServers(t *testing.T) {
	const timeout = 2 * time.Second
	c := startComponent(t, -1, timeout, nil)
	c.drainedHolds = true
	c.health.MarkLoaded()
	waitFor(t, "/readyz to pass once loaded", func() bool { code, _ := c.readyz(); return code == http.StatusOK })
	cut := make(chan time.Time, 1)
	go func() { _, _ = get(c.serve + "/slow"); cut <- time.Now() }()
	waitFor(t, "the request in flight", func() bool { return c.holding.Load() == 1 })
	stopped := time.Now()
	c.stop()
	if err := <-c.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	// Drained holds for the whole timeout; the request in flight is cut
	// as it returns, half a timeout being slack for a slow machine, not
	// after a second timeout.
	if took := (<-cut).Sub(stopped); took > timeout+timeout/2 {
		t.Errorf("the request in flight was cut %v after the stop, want about the one shutdown timeout (%v)", took, timeout)
	}
}

// TestNoDrainBeforeServing: stopped before it loaded, a component has
// nobody to tell it is going and exits at once, whatever its window.
func TestNoDrainBeforeServing(t *testing.T) {
	c := startComponent(t, time.Hour, time.Second, nil)
	c.stop()
	if err := <-c.done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}

// TestFailedEndsTheRunWithoutDraining: when the component's own work
// fails, Run returns its error without waiting out the window.
func TestFailedEndsTheRunWithoutDraining(t *testing.T) {
	failed := make(chan error, 1)
	c := startComponent(t, time.Hour, time.Second, failed)
	c.health.MarkLoaded()
	waitFor(t, "/readyz to pass once loaded", func() bool { code, _ := c.readyz(); return code == http.StatusOK })
	watchErr := errors.New("watch gone")
	failed <- watchErr
	if err := <-c.done; !errors.Is(err, watchErr) {
		t.Errorf("Run() = %v, want %v", err, watchErr)
	}
	if !c.drained.Load() {
		t.Error("Drained did not run")
	}
}
