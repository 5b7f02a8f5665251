package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingfake "flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

const testNamespace = "default"

// env is an activator running on loopback with fake API clients.
type env struct {
	t       testing.TB
	a       *Activator
	kube    *kubefake.Clientset
	serving *servingfake.Clientset
	url     string
	// stats receives what the activator reports to the autoscaler.
	stats chan activator.Stat
	// fastServed counts the requests the fast path answered itself.
	fastServed atomic.Int64
}

// servePath is how an activator under test takes its requests: through
// net/http alone, or through the HTTP/1.1 fast path in front of it, as
// it serves them by default.
type servePath struct {
	name string
	fast bool
}

var (
	netHTTPPath = servePath{name: "net/http"}
	fastPath    = servePath{name: "fast path", fast: true}
)

// forEachPath runs test against an activator on each path: what a
// client or a pod sees must not depend on which one served it.
func forEachPath(t *testing.T, test func(t *testing.T, path servePath)) {
	t.Helper()
	for _, path := range []servePath{netHTTPPath, fastPath} {
		t.Run(path.name, func(t *testing.T) { test(t, path) })
	}
}

func startActivator(t testing.TB, path servePath, cfg Config) *env {
	t.Helper()
	cfg.NetHTTPOnly = !path.fast
	e := &env{t: t, kube: kubefake.NewClientset(), serving: servingfake.NewSimpleClientset(), stats: make(chan activator.Stat, 1000)}
	autoscaler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != activator.StatsPath || r.Method != http.MethodPost {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var batch activator.StatBatch
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, s := range batch.Stats {
			select {
			case e.stats <- s:
			default:
			}
		}
	}))
	t.Cleanup(autoscaler.Close)

	cfg.Kube, cfg.Serving = e.kube, e.serving
	cfg.Address, cfg.AdminAddress = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AutoscalerURL = autoscaler.URL + activator.StatsPath
	cfg.PodName = "activator-0"
	if cfg.DrainWindow == 0 {
		cfg.DrainWindow = -1
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.fast != nil {
		// The same fast path, counting what it answers.
		a.fast = http1.NewServer(http1.HandlerFunc(func(x *http1.Exchange) {
			a.handler.ServeHTTP1(x)
			if x.Status() != 0 {
				e.fastServed.Add(1)
			}
		}), http1.Options{})
	}
	e.a = a
	e.url = "http://" + a.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("activator Run: %v", err)
		}
	})
	waitFor(t, "the activator to be ready", func() bool {
		resp, err := http.Get("http://" + a.AdminAddr().String() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// addRevision creates a Revision with the given containerConcurrency and
// timeout and waits until the activator knows it.
func (e *env) addRevision(name string, cc, timeoutSeconds int64) types.NamespacedName {
	e.t.Helper()
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: v1.RevisionSpec{
			ContainerConcurrency: ptr.To(cc),
			TimeoutSeconds:       ptr.To(timeoutSeconds),
		},
	}
	rev.Spec.Containers = []corev1.Container{{Image: "app"}}
	if _, err := e.serving.ServingV1().Revisions(testNamespace).Create(context.Background(), rev, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: testNamespace, Name: name}
	waitFor(e.t, "the activator to know "+name, func() bool { return e.a.registry.get(key) != nil })
	return key
}

// setPods writes the private Service's EndpointSlices of the Revision:
// one per address (host:port), as pods on loopback differ in port, each
// with one ready endpoint.
func (e *env) setPods(key types.NamespacedName, addrs ...string) {
	e.t.Helper()
	e.writeSlices(key, true, addrs...)
	r := e.a.registry.get(key)
	waitFor(e.t, fmt.Sprintf("%d ready pods of %s", len(addrs), key), func() bool { return r.throttler.readyPods() == len(addrs) })
}

// writeSlices replaces the private Service's EndpointSlices of the
// Revision with one per address, its endpoint ready or not.
func (e *env) writeSlices(key types.NamespacedName, ready bool, addrs ...string) {
	e.t.Helper()
	ctx := context.Background()
	slices := e.kube.DiscoveryV1().EndpointSlices(key.Namespace)
	old, err := slices.List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range old.Items {
		if err := slices.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			e.t.Fatal(err)
		}
		n, _ := strconv.Atoi(port)
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("%s-%d", names.PrivateService(key.Name), i),
				Namespace: key.Namespace,
				Labels: map[string]string{
					discoveryv1.LabelServiceName:   names.PrivateService(key.Name),
					serving.RevisionLabel.String(): key.Name,
				},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(names.ServicePortNameHTTP), Port: ptr.To(int32(n))}},
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{host},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)},
			}},
		}
		if _, err := slices.Create(ctx, slice, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// request sends one request for key through the activator.
func (e *env) request(key types.NamespacedName) (int, string) {
	req, err := http.NewRequest(http.MethodGet, e.url+"/", nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Host = "hello.example.com"
	req.Header.Set(serving.RevisionHeader, key.Name)
	req.Header.Set(serving.NamespaceHeader, key.Namespace)
	// Bounded, so that an activator that never answers fails the test
	// rather than hanging it.
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// app is a pod: it answers with its name, and counts the requests it
// holds at once.
type app struct {
	*httptest.Server
	inFlight, most atomic.Int32
	served         atomic.Int32
}

func startApp(t *testing.T, name string, delay time.Duration) *app {
	a := &app{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := a.inFlight.Add(1)
		defer a.inFlight.Add(-1)
		raiseTo(&a.most, n)
		time.Sleep(delay)
		a.served.Add(1)
		fmt.Fprintf(w, "%s host=%s", name, r.Host)
	}))
	t.Cleanup(a.Close)
	return a
}

// raiseTo sets v to n when n is larger.
func raiseTo(v *atomic.Int32, n int32) {
	for m := v.Load(); n > m; m = v.Load() {
		if v.CompareAndSwap(m, n) {
			return
		}
	}
}

func (a *app) addr() string { return strings.TrimPrefix(a.URL, "http://") }

type result struct {
	code int
	body string
}

// requestMany sends n requests for key at once and returns a channel of
// their results.
func (e *env) requestMany(key types.NamespacedName, n int) <-chan result {
	out := make(chan result, n)
	for range n {
		go func() {
			code, body := e.request(key)
			out <- result{code, body}
		}()
	}
	return out
}

func TestRequestsWaitingForPodsAreAllAnswered(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		results := e.requestMany(key, 20)
		r := e.a.registry.get(key)
		waitFor(t, "20 requests to wait", func() bool { return r.throttler.waiting() == 20 })

		// The autoscaler heard at once that a request waits with no pod.
		select {
		case s := <-e.stats:
			if !s.ColdRequest || s.Revision != key.Name || s.Namespace != key.Namespace || s.Pod != "activator-0" {
				t.Errorf("first report = %+v, want a cold request for %s from activator-0", s, key)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the autoscaler heard nothing of a request waiting for a revision with no pod")
		}

		pod := startApp(t, "pod-a", 0)
		e.setPods(key, pod.addr())
		for range 20 {
			res := <-results
			if res.code != http.StatusOK || res.body != "pod-a host=hello.example.com" {
				t.Errorf("buffered request: %d %q, want 200 from pod-a with the client's host", res.code, res.body)
			}
		}

		// The twenty waited through one cold start, which the next
		// report gives, timed by the first of them answered.
		var coldStarts []time.Duration
		for deadline := time.After(5 * time.Second); len(coldStarts) == 0; {
			select {
			case s := <-e.stats:
				coldStarts = append(coldStarts, s.ColdStarts...)
			case <-deadline:
				t.Fatal("no report gave the cold start")
			}
		}
		if len(coldStarts) != 1 || coldStarts[0] <= 0 {
			t.Errorf("cold starts reported: %v, want one", coldStarts)
		}
		if later := r.coldStarts.take(); len(later) != 0 {
			t.Errorf("cold starts still to report: %v, want none: the twenty waited through one", later)
		}
	})
}

// TestForwardedRequestsSayTheyCameThroughTheActivator: the activator
// counts each request it forwards for the autoscaler, so it tells the
// pod's sidecar, which would otherwise count it a second time.
func TestForwardedRequestsSayTheyCameThroughTheActivator(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		via := make(chan string, 1)
		pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			via <- r.Header.Get(queue.ViaActivatorHeader)
		}))
		t.Cleanup(pod.Close)
		e.setPods(key, strings.TrimPrefix(pod.URL, "http://"))
		if code, body := e.request(key); code != http.StatusOK {
			t.Fatalf("request: %d %q, want 200", code, body)
		}
		if got := <-via; got != queue.ViaActivatorValue {
			t.Errorf("%s = %q at the pod, want %q", queue.ViaActivatorHeader, got, queue.ViaActivatorValue)
		}
	})
}

// TestAStartingPodGetsRequestsOnceItAnswersAProbe lists a pod in the
// slices as not ready yet, as kube-controller-manager does from the
// moment the pod has an address: the activator probes its queue-proxy and
// sends it the waiting requests as soon as it answers, before the slices
// say it is ready.
func TestAStartingPodGetsRequestsOnceItAnswersAProbe(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		results := e.requestMany(key, 5)
		r := e.a.registry.get(key)
		waitFor(t, "5 requests to wait", func() bool { return r.throttler.waiting() == 5 })

		var appReady atomic.Bool
		var probes atomic.Int32
		pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(queue.NetworkProbeHeader) == queue.NetworkProbeValue {
				probes.Add(1)
				if !appReady.Load() {
					http.Error(w, "the app has not passed its readiness probe yet", http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte(queue.NetworkProbeValue))
				return
			}
			_, _ = w.Write([]byte("pod-a"))
		}))
		t.Cleanup(pod.Close)
		e.writeSlices(key, false, strings.TrimPrefix(pod.URL, "http://"))

		waitFor(t, "the starting pod to be probed", func() bool { return probes.Load() >= 2 })
		if n := r.throttler.readyPods(); n != 0 {
			t.Fatalf("%d pods take requests while the only one answers its probe 503", n)
		}
		appReady.Store(true)
		for range 5 {
			select {
			case res := <-results:
				if res.code != http.StatusOK || res.body != "pod-a" {
					t.Errorf("buffered request: %d %q, want 200 from pod-a", res.code, res.body)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the waiting requests were not sent to the pod that answered its probe")
			}
		}
	})
}

func TestTheQueueBoundTurnsAwayTheExcess(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{MaxQueueDepth: 5})
		key := e.addRevision("hello-00001", 0, 300)
		results := e.requestMany(key, 8)
		var refused []result
		for range 3 {
			select {
			case res := <-results:
				refused = append(refused, res)
			case <-time.After(5 * time.Second):
				t.Fatalf("got %d answers while 8 requests met a bound of 5, want 3 at once", len(refused))
			}
		}
		for _, res := range refused {
			if res.code != http.StatusServiceUnavailable || !strings.Contains(res.body, "too many requests") {
				t.Errorf("request beyond the bound: %d %q, want 503 saying too many requests wait", res.code, res.body)
			}
		}
		pod := startApp(t, "pod-a", 0)
		e.setPods(key, pod.addr())
		for range 5 {
			if res := <-results; res.code != http.StatusOK {
				t.Errorf("buffered request: %d %q, want 200", res.code, res.body)
			}
		}
	})
}

func TestWaitingEndsAtTheRevisionTimeout(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("slow-00001", 0, 1)
		start := time.Now()
		code, body := e.request(key)
		if code != http.StatusGatewayTimeout || !strings.Contains(body, "timeoutSeconds") || !strings.Contains(body, "waiting for a pod") {
			t.Errorf("request with no pod for longer than timeoutSeconds: %d %q, want 504 naming the timeout and the wait for a pod", code, body)
		}
		if took := time.Since(start); took < time.Second || took > 10*time.Second {
			t.Errorf("gave up after %v, want about the revision's 1s timeout", took)
		}
	})
}

// TestRevisionTimeoutBoundsTheResponseStart forwards to pods that answer
// late and that stream, with timeoutSeconds 1, the shortest a Revision
// may have: a response not started by then is a 504, one started in time
// streams on past it to a clean end.
func TestRevisionTimeoutBoundsTheResponseStart(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		const timeout = time.Second
		const want = "first;second;third;last"
		silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		t.Cleanup(silent.Close)
		stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i, p := range strings.SplitAfter(want, ";") {
				if i > 0 {
					time.Sleep(timeout / 2)
				}
				_, _ = io.WriteString(w, p)
				http.NewResponseController(w).Flush()
			}
		}))
		t.Cleanup(stream.Close)
		e := startActivator(t, path, Config{})

		t.Run("not started", func(t *testing.T) {
			key := e.addRevision("silent-00001", 0, int64(timeout/time.Second))
			e.setPods(key, strings.TrimPrefix(silent.URL, "http://"))
			start := time.Now()
			code, body := e.request(key)
			if code != http.StatusGatewayTimeout || !strings.Contains(body, "timeoutSeconds") || !strings.Contains(body, "to answer") {
				t.Errorf("request to a pod that does not answer: %d %q, want 504 naming the timeout and the pod", code, body)
			}
			if took := time.Since(start); took < timeout || took > 10*time.Second {
				t.Errorf("gave up after %v, want about the revision's %v timeout", took, timeout)
			}
		})
		t.Run("started", func(t *testing.T) {
			key := e.addRevision("stream-00001", 0, int64(timeout/time.Second))
			e.setPods(key, strings.TrimPrefix(stream.URL, "http://"))
			start := time.Now()
			if code, body := e.request(key); code != http.StatusOK || body != want {
				t.Errorf("stream: %d %q, want 200 and all of %q", code, body, want)
			}
			if took := time.Since(start); took < 3*timeout/2 {
				t.Errorf("the stream took %v, want at least %v: the test pod did not stream", took, 3*timeout/2)
			}
		})
	})
}

func TestEachPodGetsAtMostContainerConcurrency(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("limited-00001", 1, 300)
		a, b := startApp(t, "pod-a", 20*time.Millisecond), startApp(t, "pod-b", 20*time.Millisecond)
		e.setPods(key, a.addr(), b.addr())
		results := e.requestMany(key, 10)
		for range 10 {
			if res := <-results; res.code != http.StatusOK {
				t.Errorf("request: %d %q, want 200", res.code, res.body)
			}
		}
		for _, p := range []*app{a, b} {
			if m := p.most.Load(); m != 1 {
				t.Errorf("a pod held %d requests at once, want at most containerConcurrency 1 (and at least 1)", m)
			}
		}
		if n := a.served.Load() + b.served.Load(); n != 10 {
			t.Errorf("pods served %d requests, want 10", n)
		}
	})
}

func TestAPodThatRefusesConnectionsIsSkipped(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		gone := startApp(t, "gone", 0)
		goneAddr := gone.addr()
		gone.Close()
		live := startApp(t, "live", 0)
		e.setPods(key, goneAddr, live.addr())
		for range 10 {
			if code, body := e.request(key); code != http.StatusOK || !strings.HasPrefix(body, "live") {
				t.Fatalf("request: %d %q, want 200 from the pod that listens", code, body)
			}
		}
	})
}

func TestRequestsNameTheirRevision(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		resp, err := http.Get(e.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), serving.RevisionHeader) {
			t.Errorf("request without revision headers: %d %q, want 400 naming %s", resp.StatusCode, body, serving.RevisionHeader)
		}
		code, body2 := e.request(types.NamespacedName{Namespace: testNamespace, Name: "nope"})
		if code != http.StatusNotFound || !strings.Contains(body2, "default/nope") {
			t.Errorf("request for an unknown revision: %d %q, want 404 naming it", code, body2)
		}
	})
}

func TestDeletingTheRevisionReleasesItsWaiters(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("doomed-00001", 0, 300)
		results := e.requestMany(key, 3)
		r := e.a.registry.get(key)
		waitFor(t, "3 requests to wait", func() bool { return r.throttler.waiting() == 3 })
		if err := e.serving.ServingV1().Revisions(key.Namespace).Delete(context.Background(), key.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if res := <-results; res.code != http.StatusServiceUnavailable || !strings.Contains(res.body, "deleted") {
				t.Errorf("request waiting for a deleted revision: %d %q, want 503 saying it was deleted", res.code, res.body)
			}
		}
	})
}

func TestLoadIsReportedEverySecond(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		e := startActivator(t, path, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		pod := startApp(t, "pod-a", 50*time.Millisecond)
		e.setPods(key, pod.addr())
		var wg sync.WaitGroup
		stop := time.Now().Add(2500 * time.Millisecond)
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					e.request(key)
				}
			})
		}
		wg.Wait()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case s := <-e.stats:
				// Four clients on a 50 ms app: about 80 requests a second
				// at a concurrency of about 4.
				if s.Seconds == 1 && s.ProxiedRequestCount > 20 && s.AverageProxiedConcurrency > 2 {
					// The seconds are the wall clock's, reported just
					// after they end.
					if s.Time.Nanosecond() != 0 {
						t.Errorf("report of a second ending at %v, want a whole second", s.Time)
					}
					return
				}
			case <-deadline:
				t.Fatal("no report of a second with load from four clients")
			}
		}
	})
}

func TestDrainKeepsServingWhileNotReady(t *testing.T) {
	kube, serv := kubefake.NewClientset(), servingfake.NewSimpleClientset()
	a, err := New(Config{Kube: kube, Serving: serv, Address: "127.0.0.1:0", AdminAddress: "127.0.0.1:0", DrainWindow: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyz := func() int {
		resp, err := http.Get("http://" + a.AdminAddr().String() + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "ready", func() bool { return readyz() == http.StatusOK })
	cancel()
	waitFor(t, "not ready while draining", func() bool { return readyz() == http.StatusServiceUnavailable })
	resp, err := http.Get("http://" + a.Addr().String() + "/")
	if err != nil {
		t.Fatalf("a request during the drain window: %v, want an answer", err)
	}
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
