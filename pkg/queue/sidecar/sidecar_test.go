package sidecar

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
)

// app is a test app on loopback: "/" answers "hello", "/slow" waits for
// release (or the client) before answering, "/stream" writes streamed
// at once and then, a part every streamGap, for 600 ms.
type app struct {
	srv     *httptest.Server
	release chan struct{}
	started chan struct{}
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{release: make(chan struct{}), started: make(chan struct{}, 100)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			for i, p := range strings.SplitAfter(streamed, ";") {
				if i > 0 {
					time.Sleep(streamGap)
				}
				_, _ = io.WriteString(w, p)
				w.(http.Flusher).Flush()
			}
			return
		}
		if r.URL.Path == "/slow" {
			a.started <- struct{}{}
			select {
			case <-a.release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

const (
	streamed  = "first;second;third;last"
	streamGap = 200 * time.Millisecond
)

func (a *app) port(t *testing.T) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(a.srv.Listener.Addr().String())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// running is a sidecar serving on loopback listeners.
type running struct {
	serving, admin string
	cancel         context.CancelFunc
	done           chan error
}

func start(t *testing.T, cfg queue.Config) *running {
	t.Helper()
	return startSidecar(t, New(cfg, Options{}))
}

func startSidecar(t testing.TB, s *Sidecar) *running {
	t.Helper()
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ls := Listeners{Serving: listen(), Admin: listen()}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{
		serving: "http://" + ls.Serving.Addr().String(),
		admin:   "http://" + ls.Admin.Addr().String(),
		cancel:  cancel,
		done:    make(chan error, 1),
	}
	go func() { r.done <- s.Serve(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Serve = %v, want a clean stop", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the sidecar did not stop")
		}
	})
	return r
}

func testConfig(userPort int) queue.Config {
	cfg := queue.DefaultConfig(userPort)
	cfg.DrainWindow = 300 * time.Millisecond
	cfg.RevisionTimeout = 10 * time.Second
	return cfg
}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxiesAndAnswersProbes(t *testing.T) {
	a := newApp(t)
	r := start(t, testConfig(a.port(t)))

	if code, body := get(t, r.admin+queue.ReadyPath, nil); code != http.StatusOK {
		t.Fatalf("readiness = %d %q, want 200 once the app listens", code, body)
	}
	if code, body := get(t, r.serving+"/", nil); code != http.StatusOK || body != "hello" {
		t.Errorf("request = %d %q, want the app's 200 hello", code, body)
	}
	probe := http.Header{queue.NetworkProbeHeader: {queue.NetworkProbeValue}}
	if code, body := get(t, r.serving+"/", probe); code != http.StatusOK || body != queue.NetworkProbeValue {
		t.Errorf("network probe = %d %q, want the sidecar's own 200 %q", code, body, queue.NetworkProbeValue)
	}
	if code, _ := get(t, r.admin+queue.HealthPath, nil); code != http.StatusOK {
		t.Errorf("health = %d, want 200", code)
	}
}

func TestReadinessFailsWhileTheAppIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // nothing listens on port now
	r := start(t, testConfig(port))
	if code, _ := get(t, r.admin+queue.ReadyPath, nil); code != http.StatusServiceUnavailable {
		t.Errorf("readiness = %d, want 503 while the app does not listen", code)
	}
	probe := http.Header{queue.NetworkProbeHeader: {queue.NetworkProbeValue}}
	if code, _ := get(t, r.serving+"/", probe); code != http.StatusServiceUnavailable {
		t.Errorf("network probe = %d, want 503 while the app does not listen", code)
	}
}

// TestReadinessAnswersAsSoonAsTheAppListens sends the readiness request
// before the app listens: it is held and answered 200 once the app is up,
// instead of failing and costing a kubelet period.
func TestReadinessAnswersAsSoonAsTheAppListens(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := start(t, testConfig(port))

	code := make(chan int, 1)
	go func() {
		resp, err := http.Get(r.admin + queue.ReadyPath)
		if err != nil {
			code <- 0
			return
		}
		resp.Body.Close()
		code <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("could not listen on %s again: %v", addr, err)
	}
	defer l.Close()
	if got := <-code; got != http.StatusOK {
		t.Errorf("readiness = %d, want 200 as soon as the app listens", got)
	}
}

func TestConcurrencyLimitTurnsAwayTheExcess(t *testing.T) {
	a := newApp(t)
	cfg := testConfig(a.port(t))
	cfg.ContainerConcurrency = 1
	cfg.QueueDepth = 1
	r := start(t, cfg)

	var wg sync.WaitGroup
	defer func() {
		close(a.release)
		wg.Wait()
	}()
	// One request holds the only slot, one waits in the queue.
	for range 2 {
		wg.Go(func() { get(t, r.serving+"/slow", nil) })
	}
	<-a.started
	time.Sleep(50 * time.Millisecond) // let the second request queue
	code, body := get(t, r.serving+"/", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "containerConcurrency") {
		t.Errorf("third request = %d %q, want 503 naming containerConcurrency", code, body)
	}
	// Kubelet probes skip the queue.
	if code, _ := get(t, r.serving+"/", http.Header{"User-Agent": {queue.KubeletProbeUserAgentPrefix + "1.36"}}); code != http.StatusOK {
		t.Errorf("kubelet probe through a full queue = %d, want 200", code)
	}
}

func TestTimeoutAnswers504(t *testing.T) {
	a := newApp(t)
	cfg := testConfig(a.port(t))
	cfg.ResponseStartTimeout = 100 * time.Millisecond
	r := start(t, cfg)
	code, body := get(t, r.serving+"/slow", nil)
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "response-start timeout") {
		t.Errorf("slow request = %d %q, want 504 naming the response-start timeout", code, body)
	}
}

// TestRevisionTimeoutBoundsTheResponseStart: a response that has not
// started within the revision timeout gets a 504; one that has started
// streams on past it to a clean end.
func TestRevisionTimeoutBoundsTheResponseStart(t *testing.T) {
	a := newApp(t)
	cfg := testConfig(a.port(t))
	cfg.RevisionTimeout = 200 * time.Millisecond
	r := start(t, cfg)

	if code, body := get(t, r.serving+"/slow", nil); code != http.StatusGatewayTimeout || !strings.Contains(body, "revision timeout") {
		t.Errorf("request with no answer = %d %q, want 504 naming the revision timeout", code, body)
	}
	begin := time.Now()
	if code, body := get(t, r.serving+"/stream", nil); code != http.StatusOK || body != streamed {
		t.Errorf("stream = %d %q, want 200 and all of %q", code, body, streamed)
	}
	if took := time.Since(begin); took < 3*streamGap {
		t.Errorf("the stream took %v, want at least %v: the test app did not stream", took, 3*streamGap)
	}
}

// TestDrainServesEveryRequest terminates the sidecar with a request in
// flight: readiness fails at once, a request arriving during the drain
// window is still served, the one in flight completes, and only then does
// the sidecar stop.
func TestDrainServesEveryRequest(t *testing.T) {
	a := newApp(t)
	r := start(t, testConfig(a.port(t)))
	if code, _ := get(t, r.admin+queue.ReadyPath, nil); code != http.StatusOK {
		t.Fatalf("readiness = %d before drain, want 200", code)
	}

	inFlight := make(chan int, 1)
	go func() {
		code, _ := get(t, r.serving+"/slow", nil)
		inFlight <- code
	}()
	<-a.started
	// The kubelet runs the app's preStop hook and sends the sidecar
	// SIGTERM at the same time; the app's SIGTERM waits for the hook.
	preStop := make(chan int, 1)
	go func() {
		code, _ := get(t, r.admin+queue.DrainPath, nil)
		preStop <- code
	}()
	r.cancel() // SIGTERM

	poll(t, "readiness fails after termination", func() bool {
		code, _ := get(t, r.admin+queue.ReadyPath, nil)
		return code == http.StatusServiceUnavailable
	})
	if code, body := get(t, r.serving+"/", nil); code != http.StatusOK || body != "hello" {
		t.Errorf("request during the drain window = %d %q, want 200 hello", code, body)
	}
	select {
	case err := <-r.done:
		t.Fatalf("the sidecar stopped (%v) with a request in flight", err)
	case code := <-preStop:
		t.Fatalf("the app's preStop hook returned (%d) with a request in flight: the app would stop under it", code)
	case <-time.After(500 * time.Millisecond):
	}
	close(a.release)
	if code := <-inFlight; code != http.StatusOK {
		t.Errorf("request in flight at termination = %d, want 200", code)
	}
	select {
	case code := <-preStop:
		if code != http.StatusOK {
			t.Errorf("the preStop hook = %d after the drain, want 200", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the app's preStop hook did not return after the drain")
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a clean drain", err)
		}
		r.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		// http.Server.Shutdown waits up to 5 s for a connection that
		// has not sent a request yet, which a client's transport may
		// have dialled and then not needed: more than that is a hang.
		t.Fatal("the sidecar did not stop after its requests finished")
	}
}

// TestDrainHookReturnsWhenOnlyTheAppStops is a liveness restart: the
// kubelet runs the app's preStop hook but leaves the sidecar running. The
// hook must answer within seconds, not hold the app for the pod's whole
// grace period waiting for a drain that never comes.
func TestDrainHookReturnsWhenOnlyTheAppStops(t *testing.T) {
	a := newApp(t)
	r := start(t, testConfig(a.port(t)))

	begin := time.Now()
	code, body := get(t, r.admin+queue.DrainPath, nil)
	if code != http.StatusOK {
		t.Errorf("preStop hook = %d %q, want 200", code, body)
	}
	if took, limit := time.Since(begin), terminationWait+2*time.Second; took > limit {
		t.Errorf("preStop hook took %v with the sidecar running, want under %v", took, limit)
	}
	// The sidecar goes on as before, for the app's next run.
	if code, _ := get(t, r.admin+queue.ReadyPath, nil); code != http.StatusOK {
		t.Errorf("readiness after the hook = %d, want 200: the sidecar is not draining", code)
	}
	if code, body := get(t, r.serving+"/", nil); code != http.StatusOK || body != "hello" {
		t.Errorf("request after the hook = %d %q, want the app's 200 hello", code, body)
	}
}

// TestDrainHookWaitsForTerminationThatFollows is a pod deletion where the
// app's preStop hook reaches the sidecar before the sidecar's own SIGTERM
// does: the hook still holds the app until the drain is over.
func TestDrainHookWaitsForTerminationThatFollows(t *testing.T) {
	a := newApp(t)
	s := New(testConfig(a.port(t)), Options{})
	s.terminationWait = time.Minute // the order below is then certain
	r := startSidecar(t, s)

	inFlight := make(chan int, 1)
	go func() {
		code, _ := get(t, r.serving+"/slow", nil)
		inFlight <- code
	}()
	<-a.started
	preStop := make(chan int, 1)
	go func() {
		code, _ := get(t, r.admin+queue.DrainPath, nil)
		preStop <- code
	}()
	poll(t, "the preStop hook waits", func() bool { return s.hooksWaiting.Load() == 1 })
	r.cancel() // SIGTERM, after the hook
	poll(t, "the sidecar drains", func() bool {
		code, _ := get(t, r.admin+queue.ReadyPath, nil)
		return code == http.StatusServiceUnavailable
	})
	select {
	case code := <-preStop:
		t.Fatalf("the preStop hook returned (%d) with a request in flight: the app would stop under it", code)
	default:
	}
	close(a.release)
	if code := <-inFlight; code != http.StatusOK {
		t.Errorf("request in flight at termination = %d, want 200", code)
	}
	select {
	case code := <-preStop:
		if code != http.StatusOK {
			t.Errorf("the preStop hook = %d after the drain, want 200", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the app's preStop hook did not return after the drain")
	}
}

// poll waits up to 5 s for cond, checking every few milliseconds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMeasureCountsProbesApart checks the measuring stage is outermost:
// proxied requests and the network probes the sidecar answers itself are
// both counted, each as what it is.
func TestMeasureCountsProbesApart(t *testing.T) {
	a := newApp(t)
	tracker := stats.NewTracker(clock.RealClock{})
	s := New(testConfig(a.port(t)), Options{Measure: func(h http.Handler) http.Handler { return stats.Handler(h, tracker) }})
	h := s.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("proxied request = %d, want 200", rec.Code)
	}
	probe := httptest.NewRequest(http.MethodGet, "/", nil)
	probe.Header.Set(queue.NetworkProbeHeader, queue.NetworkProbeValue)
	h.ServeHTTP(httptest.NewRecorder(), probe)

	snap := tracker.Snapshot()
	if snap.ProxiedRequests != 1 || snap.ProbeRequests != 1 {
		t.Errorf("counted %d proxied and %d probe requests, want 1 and 1", snap.ProxiedRequests, snap.ProbeRequests)
	}
}
