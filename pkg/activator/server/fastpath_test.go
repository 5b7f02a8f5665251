package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/telemetry"
)

// podView is what a pod received of one request.
type podView struct {
	Method, Host, URI string
	Header            http.Header
	Body              string
}

// recordingPod is a pod that notes the last request it got.
type recordingPod struct {
	*httptest.Server
	mu   sync.Mutex
	last podView
}

func startRecordingPod(t *testing.T) *recordingPod {
	t.Helper()
	p := &recordingPod{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.last = podView{Method: r.Method, Host: r.Host, URI: r.RequestURI, Header: r.Header.Clone(), Body: string(b)}
		p.mu.Unlock()
		_, _ = io.WriteString(w, "pod")
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingPod) seen() podView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// send sends a request for key through the activator, with the given
// fields, and returns the status and body.
func (e *env) send(t *testing.T, method, target, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "hello.example.com"
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFastPathForwardsAsNetHTTP(t *testing.T) {
	pod := startRecordingPod(t)
	envs := map[string]*env{}
	for _, path := range []servePath{netHTTPPath, fastPath} {
		e := startActivator(t, path, Config{})
		key := e.addRevision("hello-00001", 0, 300)
		e.setPods(key, strings.TrimPrefix(pod.URL, "http://"))
		envs[path.name] = e
	}
	route := http.Header{serving.RevisionHeader: {"hello-00001"}, serving.NamespaceHeader: {testNamespace}}
	for _, tc := range []struct {
		name, method, target, body string
		header                     http.Header
	}{
		{name: "plain GET", method: "GET", target: "/path?q=1"},
		{name: "POST with a body", method: "POST", target: "/submit", body: "payload"},
		{name: "the gateway's fields", method: "GET", target: "/", header: http.Header{
			"X-Forwarded-For":   {"203.0.113.7, 10.0.0.1"},
			"X-Forwarded-Host":  {"hello.example.com"},
			"X-Forwarded-Proto": {"https"},
			"Forwarded":         {"for=203.0.113.7"},
			"K-Via-Activator":   {"spoofed"},
			"Traceparent":       {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := route.Clone()
			for k, vs := range tc.header {
				header[k] = vs
			}
			var got []podView
			for _, name := range []string{netHTTPPath.name, fastPath.name} {
				if code, body := envs[name].send(t, tc.method, tc.target, tc.body, header); code != http.StatusOK || body != "pod" {
					t.Fatalf("%s: %d %q, want 200 pod", name, code, body)
				}
				got = append(got, pod.seen())
			}
			if diff := cmp.Diff(got[0], got[1]); diff != "" {
				t.Errorf("what the pod saw (-net/http, +fast path):\n%s", diff)
			}
		})
	}
	fast := envs[fastPath.name]
	waitFor(t, "the fast path to have served all 3 requests", func() bool { return fast.fastServed.Load() == 3 })
}

func TestFastPathDeclinesRequestsThatWait(t *testing.T) {
	e := startActivator(t, fastPath, Config{})
	key := e.addRevision("hello-00001", 1, 300)
	results := e.requestMany(key, 1)
	r := e.a.registry.get(key)
	waitFor(t, "the cold request to wait", func() bool { return r.throttler.waiting() == 1 })
	pod := startApp(t, "pod-a", 0)
	e.setPods(key, pod.addr())
	if res := <-results; res.code != http.StatusOK {
		t.Fatalf("the cold request: %d %q, want 200", res.code, res.body)
	}
	if n := e.fastServed.Load(); n != 0 {
		t.Errorf("the fast path served %d requests, want the cold one declined to net/http", n)
	}
	// Warm now: the next takes the fast path, on a new connection: the
	// declined one, which would have stayed with net/http, was closed
	// after the answer to the request that waited.
	if code, body := e.request(key); code != http.StatusOK {
		t.Fatalf("the warm request: %d %q, want 200", code, body)
	}
	waitFor(t, "the fast path to serve the warm request", func() bool { return e.fastServed.Load() == 1 })
}

func TestFastPathMovesToAnotherPodWhenConnectingFails(t *testing.T) {
	e := startActivator(t, fastPath, Config{})
	key := e.addRevision("hello-00001", 0, 300)
	gone := startApp(t, "gone", 0)
	goneAddr := gone.addr()
	gone.Close()
	live := startApp(t, "live", 0)
	e.setPods(key, goneAddr, live.addr())
	const n = 10
	for range n {
		if code, body := e.send(t, "POST", "/", "payload", http.Header{serving.RevisionHeader: {key.Name}, serving.NamespaceHeader: {key.Namespace}}); code != http.StatusOK || !strings.HasPrefix(body, "live") {
			t.Fatalf("request: %d %q, want 200 from the pod that listens", code, body)
		}
	}
	waitFor(t, "the fast path to serve every request", func() bool { return e.fastServed.Load() == n })
	r := e.a.registry.get(key)
	waitFor(t, "every pod's place given back", func() bool {
		r.throttler.mu.Lock()
		defer r.throttler.mu.Unlock()
		for _, p := range r.throttler.known {
			if p.inFlight != 0 {
				return false
			}
		}
		return true
	})
}

func TestFastPathTracesAsNetHTTP(t *testing.T) {
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	forEachPath(t, func(t *testing.T, path servePath) {
		recorder := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
		e := startActivator(t, path, Config{Tracer: telemetry.NewTracer(tp, "test", func() bool { return true })})
		key := e.addRevision("hello-00001", 0, 300)
		pod := startRecordingPod(t)
		e.setPods(key, strings.TrimPrefix(pod.URL, "http://"))
		header := http.Header{serving.RevisionHeader: {key.Name}, serving.NamespaceHeader: {key.Namespace}, "Traceparent": {caller}}
		if code, body := e.send(t, "GET", "/", "", header); code != http.StatusOK {
			t.Fatalf("request: %d %q", code, body)
		}
		waitFor(t, "the activator's span to end", func() bool { return len(recorder.Ended()) == 2 })
		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range recorder.Ended() {
			byName[s.Name()] = s
		}
		span, wait := byName["activator"], byName["activator.wait"]
		if span == nil || wait == nil {
			t.Fatalf("spans %v, want activator and activator.wait", byName)
		}
		if span.Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Errorf("the activator's span has parent %v, want the caller's", span.Parent())
		}
		if wait.Parent().SpanID() != span.SpanContext().SpanID() {
			t.Errorf("the wait's parent is %v, want the activator's span", wait.Parent())
		}
		want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + span.SpanContext().SpanID().String() + "-01"
		if got := pod.seen().Header.Get("Traceparent"); got != want {
			t.Errorf("the pod saw traceparent %q, want the activator's span as parent: %q", got, want)
		}
	})
}
