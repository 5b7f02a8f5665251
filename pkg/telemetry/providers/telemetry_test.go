package providers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"flywheel.dev/pkg/telemetry/obsconfig"
)

func TestParseConfig(t *testing.T) {
	got, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics.Protocol != obsconfig.ProtocolPrometheus || got.Tracing.Protocol != obsconfig.ProtocolNone || got.TracingOn() {
		t.Errorf("without a ConfigMap: %+v, want Prometheus metrics and no tracing", got)
	}
	if got.PrometheusAddress() != DefaultPrometheusAddress {
		t.Errorf("Prometheus address %q, want %q", got.PrometheusAddress(), DefaultPrometheusAddress)
	}

	got, err = ParseConfig(map[string]string{
		KeyMetricsProtocol: "grpc", KeyMetricsEndpoint: "http://collector:4317", KeyMetricsExportInterval: "15s",
		KeyTracingProtocol: "http/protobuf", KeyTracingEndpoint: "http://collector:4318/v1/traces", KeyTracingSamplingRate: "0.25",
		"_example": "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics != (obsconfig.Metrics{Protocol: "grpc", Endpoint: "http://collector:4317", ExportInterval: 15 * time.Second}) ||
		got.Tracing != (obsconfig.Tracing{Protocol: "http/protobuf", Endpoint: "http://collector:4318/v1/traces", SamplingRate: 0.25}) || !got.TracingOn() {
		t.Errorf("ParseConfig = %+v", got)
	}

	for _, tc := range []struct {
		data map[string]string
		want []string
	}{
		{map[string]string{KeyMetricsProtocol: "carrier-pigeon"}, []string{ConfigMapName, `metrics-protocol "carrier-pigeon"`, "one of prometheus"}},
		{map[string]string{KeyMetricsProtocol: "grpc"}, []string{"metrics-endpoint is empty", "OTLP receiver's URL"}},
		{map[string]string{KeyMetricsProtocol: "grpc", KeyMetricsEndpoint: "collector:4317"}, []string{ConfigMapName, `metrics-endpoint "collector:4317"`, "http://collector:4318/v1/metrics"}},
		{map[string]string{KeyMetricsExportInterval: "often"}, []string{`metrics-export-interval`, `"often"`}},
		{map[string]string{KeyTracingProtocol: "zipkin"}, []string{`tracing-protocol "zipkin"`, "one of none, grpc"}},
		{map[string]string{KeyTracingProtocol: "grpc", KeyTracingEndpoint: "http://c:4317", KeyTracingSamplingRate: "2"}, []string{`tracing-sampling-rate 2`, "from 0 to 1"}},
		{map[string]string{KeyTracingProtocol: "grpc", KeyTracingEndpoint: "collector:4317"}, []string{ConfigMapName, `tracing-endpoint "collector:4317"`, "http://collector:4317"}},
	} {
		_, err := ParseConfig(tc.data)
		if err == nil {
			t.Errorf("ParseConfig(%v) accepted it", tc.data)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseConfig(%v) = %q, want it to say %q", tc.data, err, w)
			}
		}
	}
}

// otlpReceiver counts the OTLP/HTTP exports it receives, by path.
type otlpReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{hits: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.hits[req.URL.Path]++
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestAnInstrumentReportsWhereverTheConfigurationSendsIt(t *testing.T) {
	ctx := t.Context()
	cfg := DefaultConfig()
	cfg.Metrics.Endpoint = "127.0.0.1:0"
	tel, err := New(ctx, "gateway", cfg, nil, attribute.String("k8s.pod.name", "gw-1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	requests, err := tel.MeterProvider().Meter("test").Int64Counter("flywheel.test.requests")
	if err != nil {
		t.Fatal(err)
	}
	requests.Add(ctx, 3)

	addr := tel.PrometheusListener()
	if addr == "" {
		t.Fatal("no Prometheus server with metrics-protocol prometheus")
	}
	if got := scrape(t, addr); !strings.Contains(got, "flywheel_test_requests_total") || !strings.Contains(got, `service_name="gateway"`) {
		t.Errorf("the Prometheus endpoint:\n%s\nwant flywheel_test_requests_total with the component's target_info", got)
	}

	// OTLP over HTTP: the same instrument is pushed, and the Prometheus
	// server is gone.
	receiver := newOTLPReceiver(t)
	push := DefaultConfig()
	push.Metrics = obsconfig.Metrics{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: receiver.URL + "/v1/metrics"}
	if err := tel.Apply(ctx, push); err != nil {
		t.Fatal(err)
	}
	if tel.PrometheusListener() != "" {
		t.Error("the Prometheus server still runs with metrics-protocol http/protobuf")
	}
	requests.Add(ctx, 1)
	if err := tel.meters.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if receiver.count("/v1/metrics") == 0 {
		t.Error("no metrics reached the OTLP receiver")
	}

	// none: nothing pushed any more.
	before := receiver.count("/v1/metrics")
	if err := tel.Apply(ctx, Config{Metrics: obsconfig.Metrics{Protocol: obsconfig.ProtocolNone}, Tracing: obsconfig.Tracing{Protocol: obsconfig.ProtocolNone}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the replaced exporter's shutdown may still send
	before = max(before, receiver.count("/v1/metrics"))
	requests.Add(ctx, 1)
	if err := tel.meters.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := receiver.count("/v1/metrics"); got != before {
		t.Errorf("metrics-protocol none: %d exports after, want %d", got, before)
	}
}

func TestTracingIsOffUntilConfigured(t *testing.T) {
	ctx := t.Context()
	cfg := DefaultConfig()
	cfg.Metrics.Protocol = obsconfig.ProtocolNone
	tel, err := New(ctx, "activator", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	tracer := tel.TracerProvider().Tracer("test")
	_, span := tracer.Start(ctx, "off")
	if span.IsRecording() || tel.TracingOn() {
		t.Error("a span is recorded with tracing-protocol none")
	}
	span.End()

	receiver := newOTLPReceiver(t)
	cfg.Tracing = obsconfig.Tracing{Protocol: obsconfig.ProtocolHTTPProtobuf, Endpoint: receiver.URL + "/v1/traces", SamplingRate: 1}
	if err := tel.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if !tel.TracingOn() {
		t.Error("TracingOn() = false with a sampling rate of 1")
	}
	_, span = tracer.Start(ctx, "on")
	if !span.IsRecording() {
		t.Error("the same tracer records nothing after tracing was configured")
	}
	span.End()
	if err := tel.tracers.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if receiver.count("/v1/traces") == 0 {
		t.Error("no span reached the OTLP receiver")
	}
}

// TestScrapedElsewhereStartsNoServer: a component that serves the
// figures on its own port (the queue-proxy) gets no server of this
// package's, and its handler has them.
func TestScrapedElsewhereStartsNoServer(t *testing.T) {
	ctx := t.Context()
	cfg := DefaultConfig()
	cfg.Metrics.Endpoint = "127.0.0.1:0"
	tel, err := NewWithOptions(ctx, "queue-proxy", cfg, Options{ScrapedElsewhere: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if addr := tel.PrometheusListener(); addr != "" {
		t.Errorf("a Prometheus server listens on %s, want none", addr)
	}
	requests, err := tel.MeterProvider().Meter("test").Int64Counter("flywheel.test.requests")
	if err != nil {
		t.Fatal(err)
	}
	requests.Add(ctx, 1)
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "flywheel_test_requests_total 1") {
		t.Errorf("MetricsHandler:\n%s\nwant flywheel_test_requests_total 1", rec.Body)
	}
}
