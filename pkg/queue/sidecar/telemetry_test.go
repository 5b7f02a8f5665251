package sidecar

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/telemetry/providers"
)

const (
	callerTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID      = "00f067aa0ba902b7"
	callerTraceparent = "00-" + callerTraceID + "-" + callerSpanID + "-01"
)

// tracedApp answers with the status ?status= asks for (200 without),
// and notes the traceparent of each request and when it came; /slow
// waits for release.
type tracedApp struct {
	srv     *httptest.Server
	release chan struct{}
	started chan struct{}

	mu       sync.Mutex
	seen     []string
	arrivals []time.Time
}

func newTracedApp(t *testing.T) *tracedApp {
	t.Helper()
	a := &tracedApp{release: make(chan struct{}), started: make(chan struct{}, 10)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Header.Get("Traceparent"))
		a.arrivals = append(a.arrivals, time.Now())
		a.mu.Unlock()
		if r.URL.Path == "/slow" {
			a.started <- struct{}{}
			<-a.release
		}
		status := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *tracedApp) traceparents() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// arrivedAfter says whether a request whose parent was the span spanID
// (hex) came at or after t.
func (a *tracedApp) arrivedAfter(spanID string, t time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, tp := range a.seen {
		if strings.Contains(tp, "-"+spanID+"-") && !a.arrivals[i].Before(t) {
			return true
		}
	}
	return false
}

func (a *tracedApp) config(t *testing.T) queue.Config {
	t.Helper()
	_, port, _ := strings.Cut(strings.TrimPrefix(a.srv.URL, "http://"), ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return a.configFor(n)
}

// configFor is the config of a Revision's pod whose app listens on
// port.
func (*tracedApp) configFor(port int) queue.Config {
	cfg := testConfig(port)
	cfg.Namespace, cfg.Service, cfg.Configuration, cfg.Revision, cfg.Pod = "shop", "cart", "cart", "cart-00001", "cart-00001-deployment-abc"
	return cfg
}

// observed is a sidecar with the SDK's in-memory metric reader and span
// recorder.
type observed struct {
	*running
	sidecar  *Sidecar
	reader   *sdkmetric.ManualReader
	recorder *tracetest.SpanRecorder
}

func startObserved(t *testing.T, cfg queue.Config, tracing bool) *observed {
	t.Helper()
	o := &observed{reader: sdkmetric.NewManualReader(), recorder: tracetest.NewSpanRecorder()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.recorder))
	s := New(cfg, Options{
		Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader)),
		Tracer: providers.NewTracer(tp, "test", func() bool { return tracing }),
	})
	o.sidecar = s
	o.running = startSidecar(t, s)
	return o
}

func (o *observed) queueLoad() (inFlight, waiting int) { return o.sidecar.limiter.Load() }

// h2c is a client that speaks cleartext HTTP/2, which the fast path
// declines: its requests take the net/http chain.
func h2c() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func send(t *testing.T, c *http.Client, url string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != nil {
		req.Header = header
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// durations returns the counts of http.server.request.duration by
// attribute set, and checks its unit.
func (o *observed) durations(t *testing.T) map[string]uint64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metricRequestDuration {
				continue
			}
			if m.Unit != "s" {
				t.Errorf("%s has unit %q, want s", m.Name, m.Unit)
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s is a %T, want a histogram", m.Name, m.Data)
			}
			for _, p := range h.DataPoints {
				got[p.Attributes.Encoded(attribute.DefaultEncoder())] += p.Count
			}
		}
	}
	return got
}

// expectDurations waits for the counts to be want: the client has its
// response just before the sidecar records it.
func (o *observed) expectDurations(t *testing.T, want map[string]uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		diff := cmp.Diff(want, o.durations(t))
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s counts by attributes (-want, +got):\n%s", metricRequestDuration, diff)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func attrs(kvs ...attribute.KeyValue) string {
	s := attribute.NewSet(kvs...)
	return s.Encoded(attribute.DefaultEncoder())
}

func TestRequestDurationByStatus(t *testing.T) {
	a := newTracedApp(t)
	o := startObserved(t, a.config(t), false)
	slow := h2c()
	if code := send(t, slow, o.serving+"/", nil); code != http.StatusOK {
		t.Fatalf("GET / over h2c = %d, want 200", code)
	}
	if code := send(t, slow, o.serving+"/?status=404", nil); code != http.StatusNotFound {
		t.Fatalf("GET /?status=404 over h2c = %d, want 404", code)
	}
	// The fast path, whose relayed responses carry their status too.
	if code := send(t, http.DefaultClient, o.serving+"/", nil); code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", code)
	}
	// Probes are no requests of the app's.
	send(t, http.DefaultClient, o.serving+"/", http.Header{queue.NetworkProbeHeader: {queue.NetworkProbeValue}})

	ns, rev := attrNamespace.String("shop"), attrRevision.String("cart-00001")
	want := map[string]uint64{
		attrs(ns, rev, attrStatus.Int(http.StatusOK)):       2,
		attrs(ns, rev, attrStatus.Int(http.StatusNotFound)): 1,
	}
	o.expectDurations(t, want)
}

// TestTheSidecarsOwnAnswersCountWithTheirStatus: a 502 for an app that
// does not answer has its status on the fast path too.
func TestTheSidecarsOwnAnswersCountWithTheirStatus(t *testing.T) {
	a := newTracedApp(t)
	cfg := a.config(t)
	a.srv.Close()
	o := startObserved(t, cfg, false)
	if code := send(t, http.DefaultClient, o.serving+"/", nil); code != http.StatusBadGateway {
		t.Fatalf("GET / with the app gone = %d, want 502", code)
	}
	want := map[string]uint64{attrs(attrNamespace.String("shop"), attrRevision.String("cart-00001"), attrStatus.Int(http.StatusBadGateway)): 1}
	o.expectDurations(t, want)
}

// spanAttrs returns a span's attributes as strings.
func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// byName returns the ended spans by name; each name must come once.
func byName(t *testing.T, spans []sdktrace.ReadOnlySpan) map[string]sdktrace.ReadOnlySpan {
	t.Helper()
	m := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if _, dup := m[s.Name()]; dup {
			t.Errorf("two spans named %q", s.Name())
		}
		m[s.Name()] = s
	}
	return m
}

func TestTheSidecarsSpansOnBothPaths(t *testing.T) {
	for _, path := range []struct {
		name   string
		client *http.Client
	}{{"fast path", http.DefaultClient}, {"net/http", h2c()}} {
		t.Run(path.name, func(t *testing.T) {
			a := newTracedApp(t)
			o := startObserved(t, a.config(t), true)
			send(t, path.client, o.serving+"/?status=503", http.Header{"Traceparent": {callerTraceparent}})
			// The client has its response just before the spans end.
			poll(t, "the request's span ends", func() bool { return len(o.recorder.Ended()) >= 1 })
			spans := byName(t, o.recorder.Ended())
			server := spans[spanServer]
			if server == nil || len(spans) != 1 {
				t.Fatalf("spans %v, want %s alone (no wait without a limit)", spans, spanServer)
			}
			if server.SpanKind() != trace.SpanKindServer || server.Parent().TraceID().String() != callerTraceID || server.Parent().SpanID().String() != callerSpanID {
				t.Errorf("%s: kind %v, parent %v; want a server span in the caller's trace, its child", spanServer, server.SpanKind(), server.Parent())
			}
			// Who the pod serves is the resource's (resourceAttributes).
			want := map[attribute.Key]string{"http.request.method": "GET", "http.response.status_code": "503"}
			if diff := cmp.Diff(want, spanAttrs(server)); diff != "" {
				t.Errorf("%s attributes (-want, +got):\n%s", spanServer, diff)
			}
			// The app's parent is the sidecar's span.
			wantParent := "00-" + callerTraceID + "-" + server.SpanContext().SpanID().String() + "-01"
			if got := a.traceparents(); len(got) != 1 || got[0] != wantParent {
				t.Errorf("the app got traceparent %q, want %q", got, wantParent)
			}
		})
	}
}

func TestTheResourceNamesThePodAndWhatItServes(t *testing.T) {
	cfg := (&tracedApp{}).configFor(8080)
	got := map[attribute.Key]string{}
	for _, a := range resourceAttributes(cfg) {
		got[a.Key] = a.Value.String()
	}
	want := map[attribute.Key]string{
		"k8s.namespace.name": "shop", "flywheel.service": "cart", "flywheel.configuration": "cart",
		"flywheel.revision": "cart-00001", "k8s.pod.name": "cart-00001-deployment-abc",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resource attributes (-want, +got):\n%s", diff)
	}
	// A pod run outside a Revision (the benchmark's) names only what it
	// knows.
	if attrs := resourceAttributes(testConfig(8080)); len(attrs) != 0 {
		t.Errorf("resource attributes of a bare config = %v, want none", attrs)
	}
}

// TestTheQueueWaitIsASpanOfItsOwn: a request that waits for the only
// slot has a queue.wait span in its own, ended before the request leaves
// for the app, which gets the request's span as its parent, not the
// wait.
func TestTheQueueWaitIsASpanOfItsOwn(t *testing.T) {
	a := newTracedApp(t)
	cfg := a.config(t)
	cfg.ContainerConcurrency, cfg.QueueDepth = 1, 1
	o := startObserved(t, cfg, true)

	done := make(chan int, 2)
	go func() { done <- send(t, http.DefaultClient, o.serving+"/slow", nil) }()
	<-a.started
	go func() { done <- send(t, http.DefaultClient, o.serving+"/queued", nil) }()
	poll(t, "the second request waits", func() bool { _, waiting := o.queueLoad(); return waiting == 1 })
	time.Sleep(20 * time.Millisecond) // a wait long enough to see
	close(a.release)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
	}
	poll(t, "both requests' spans end", func() bool { return len(o.recorder.Ended()) == 3 })
	var wait, queued sdktrace.ReadOnlySpan
	for _, s := range o.recorder.Ended() {
		if s.Name() == spanQueueWait {
			wait = s
		}
	}
	if wait == nil {
		t.Fatalf("no %s span among %d", spanQueueWait, len(o.recorder.Ended()))
	}
	for _, s := range o.recorder.Ended() {
		if s.Name() == spanServer && s.SpanContext().SpanID() == wait.Parent().SpanID() {
			queued = s
		}
	}
	if queued == nil {
		t.Fatalf("the %s span's parent is no %s span", spanQueueWait, spanServer)
	}
	if d := wait.EndTime().Sub(wait.StartTime()); d < 20*time.Millisecond {
		t.Errorf("%s lasted %v, want the wait for the slot, 20ms or more", spanQueueWait, d)
	}
	if !a.arrivedAfter(queued.SpanContext().SpanID().String(), wait.EndTime()) {
		t.Errorf("the queued request did not reach the app after its wait ended, with its %s span as parent; the app saw %q", spanServer, a.traceparents())
	}
}

func TestWithTracingOffTheCallersTraceparentPassesAsItCame(t *testing.T) {
	for _, path := range []struct {
		name   string
		client *http.Client
	}{{"fast path", http.DefaultClient}, {"net/http", h2c()}} {
		t.Run(path.name, func(t *testing.T) {
			a := newTracedApp(t)
			o := startObserved(t, a.config(t), false)
			send(t, path.client, o.serving+"/", http.Header{"Traceparent": {callerTraceparent}})
			if got := a.traceparents(); len(got) != 1 || got[0] != callerTraceparent {
				t.Errorf("the app got traceparent %q, want the caller's %q", got, callerTraceparent)
			}
			if n := len(o.recorder.Ended()); n != 0 {
				t.Errorf("%d spans with tracing off, want none", n)
			}
		})
	}
}

func TestObservabilityConfigNamesWhatToFix(t *testing.T) {
	cfg, err := ObservabilityConfig(queue.Observability{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Protocol != "prometheus" || cfg.TracingOn() {
		t.Errorf("without settings: %+v, want Prometheus metrics and no tracing", cfg)
	}
	cfg, err = ObservabilityConfig(queue.Observability{TracingProtocol: "grpc", TracingEndpoint: "http://collector:4317", TracingSamplingRate: "0.5"})
	if err != nil || !cfg.TracingOn() || cfg.Tracing.SamplingRate != 0.5 {
		t.Errorf("OTLP tracing at 0.5: %+v, %v; want it on", cfg, err)
	}
	_, err = ObservabilityConfig(queue.Observability{TracingProtocol: "zipkin"})
	if err == nil || !strings.Contains(err.Error(), string(queue.EnvTracingProtocol)) || !strings.Contains(err.Error(), providers.ConfigMapName) {
		t.Errorf("tracing-protocol zipkin: error %v, want one naming %s and %s", err, queue.EnvTracingProtocol, providers.ConfigMapName)
	}
}
