package promtext_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	clocktesting "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/telemetry/promtext"
)

// scrapers is one meter provider read by this package's Exporter and by
// the OpenTelemetry Prometheus exporter it replaces, served by promhttp
// as pkg/telemetry/providers served it.
type scrapers struct {
	provider *sdkmetric.MeterProvider
	ours     *promtext.Exporter
	theirs   http.Handler
}

func newScrapers(t testing.TB, res *resource.Resource, opts ...sdkmetric.Option) scrapers {
	t.Helper()
	ours := promtext.New()
	reg := prometheus.NewRegistry()
	theirs, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		t.Fatalf("the OpenTelemetry Prometheus exporter: %v", err)
	}
	opts = append([]sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(ours.Reader()),
		sdkmetric.WithReader(theirs),
	}, opts...)
	mp := sdkmetric.NewMeterProvider(opts...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return scrapers{provider: mp, ours: ours, theirs: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
}

type response struct {
	status      int
	contentType string
	body        string
}

func get(t testing.TB, h http.Handler, target string) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return response{status: rec.Code, contentType: rec.Header().Get("Content-Type"), body: rec.Body.String()}
}

// scrapeBoth scrapes target of both exporters and, when both serve it,
// holds what a Prometheus text parser reads of ours to what it reads of
// theirs. It returns both responses.
func (s scrapers) scrapeBoth(t *testing.T, target string) (ours, theirs response) {
	t.Helper()
	ours, theirs = get(t, s.ours, target), get(t, s.theirs, target)
	if ours.status != theirs.status {
		t.Fatalf("GET %s: status %d, the OpenTelemetry exporter's %d\nours:\n%s\ntheirs:\n%s", target, ours.status, theirs.status, ours.body, theirs.body)
	}
	if ours.status == http.StatusOK {
		if diff := cmp.Diff(parse(t, theirs.body), parse(t, ours.body)); diff != "" {
			t.Errorf("GET %s: what a Prometheus parser reads differs from the OpenTelemetry exporter's (-theirs, +ours):\n%s", target, diff)
		}
	}
	return ours, theirs
}

// parse reads a scrape as Prometheus' text parser reads it and writes it
// back one family after another by name, each series' labels by name:
// a form in which two scrapes are equal when they say the same, which
// shows a difference as the lines that differ. Series stay in the order
// they came in, which is part of what is compared.
func parse(t testing.TB, body string) []string {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	slices.Sort(names)
	var out bytes.Buffer
	for _, name := range names {
		mf := families[name]
		for _, m := range mf.Metric {
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
		if _, err := expfmt.MetricFamilyToText(&out, mf); err != nil {
			t.Fatalf("writing back %s: %v", name, err)
		}
	}
	return strings.Split(out.String(), "\n")
}

// familyNames are the families of a scrape with their types, "name type".
func familyNames(t testing.TB, body string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// podResource is a resource like a Flywheel component's.
func podResource() *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", "queue-proxy"),
		attribute.String("service.instance.id", "hello-00001-deployment-5c9f8d7b6-x2x7k"),
		attribute.String("k8s.pod.name", "hello-00001-deployment-5c9f8d7b6-x2x7k"),
		attribute.String("k8s.namespace.name", "default"),
		attribute.String("flywheel.revision", "hello-00001"),
		attribute.String("flywheel.service", ""),
		attribute.Int("process.pid", 1),
	)
}

func TestScrapeMatchesTheOTelPrometheusExporter(t *testing.T) {
	ctx := context.Background()
	// A histogram given exponential buckets by a view: the exporter makes
	// a native histogram of it, whose text is its count and sum alone.
	exponential := sdkmetric.NewView(sdkmetric.Instrument{Name: "exp.latency"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})
	s := newScrapers(t, podResource(), sdkmetric.WithView(exponential))
	m := s.provider.Meter("flywheel.dev/test/broad", metric.WithInstrumentationVersion("v1"))

	methodGet, methodPost := attribute.String("http.request.method", "GET"), attribute.String("http.request.method", "POST")
	requests, _ := m.Int64Counter("requests.served", metric.WithUnit("{request}"), metric.WithDescription("Requests served."))
	requests.Add(ctx, 3, metric.WithAttributes(methodGet, attribute.Int("http.response.status_code", 200)))
	requests.Add(ctx, 1, metric.WithAttributes(methodPost, attribute.Int("http.response.status_code", 503)))
	requests.Add(ctx, 1<<62)

	sent, _ := m.Float64Counter("bytes-sent", metric.WithUnit("By"), metric.WithDescription("Bytes, with a \\ and a\nnewline in the help."))
	sent.Add(ctx, 1536.25, metric.WithAttributes(attribute.String("peer.name", `quo"ted\back`+"\nslash")))
	sent.Add(ctx, 1e21, metric.WithAttributes(attribute.String("peer.name", "big")))

	depth, _ := m.Int64UpDownCounter("queue.depth", metric.WithUnit("{item}"))
	depth.Add(ctx, 5)
	depth.Add(ctx, -7, metric.WithAttributes(attribute.Bool("queue.priority", true)))

	usage, _ := m.Float64UpDownCounter("pool.usage", metric.WithUnit("1"))
	usage.Add(ctx, 0.25, metric.WithAttributes(attribute.Float64("pool.size", 2.5)))

	utilisation, _ := m.Int64Gauge("cpu.utilization", metric.WithUnit("1"), metric.WithDescription("CPU"))
	utilisation.Record(ctx, 1, metric.WithAttributes(attribute.StringSlice("cpu.modes", []string{"user", "system"})))

	temperature, _ := m.Float64Gauge("température", metric.WithUnit("Cel"))
	temperature.Record(ctx, -40.5)
	temperature.Record(ctx, math.Inf(+1), metric.WithAttributes(attribute.String("sensor", "hot")))
	temperature.Record(ctx, math.NaN(), metric.WithAttributes(attribute.String("sensor", "broken")))
	temperature.Record(ctx, math.Copysign(0, -1), metric.WithAttributes(attribute.String("sensor", "freezing")))

	odd, _ := m.Float64Counter("http-client.open__connections..total", metric.WithUnit("foo/bar"))
	// Keys that become one label name give one label of both values.
	odd.Add(ctx, 2, metric.WithAttributes(attribute.String("net.peer", "b"), attribute.String("net_peer", "a"), attribute.String("1st.key", "x")))

	_, _ = m.Int64ObservableCounter("process.cpu.time", metric.WithUnit("s"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(12, metric.WithAttributes(attribute.String("cpu.mode", "user")))
			o.Observe(3, metric.WithAttributes(attribute.String("cpu.mode", "system")))
			return nil
		}))
	_, _ = m.Float64ObservableGauge("memory.usage", metric.WithUnit("MiBy"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(512.5)
			return nil
		}))
	_, _ = m.Int64ObservableUpDownCounter("goroutines", metric.WithUnit("{goroutine}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(42)
			return nil
		}))

	defaultBuckets, _ := m.Float64Histogram("rpc.server.duration", metric.WithUnit("ms"))
	customBuckets, _ := m.Float64Histogram("payload.size", metric.WithUnit("By"), metric.WithExplicitBucketBoundaries(100, 1000, 10000))
	intBuckets, _ := m.Int64Histogram("batch.items", metric.WithExplicitBucketBoundaries(1, 10, 100))
	exp, _ := m.Float64Histogram("exp.latency", metric.WithUnit("s"))
	// A measurement in a sampled trace keeps an exemplar, which the
	// exporter attaches to a bucket; the text format shows none.
	sampled := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	}))
	for i, v := range []float64{0.5, 3, 70, 2500, 20000} {
		route := metric.WithAttributes(attribute.String("http.route", []string{"/a", "/b"}[i%2]))
		defaultBuckets.Record(ctx, v, route)
		customBuckets.Record(sampled, v*10, route)
		intBuckets.Record(ctx, int64(v))
		exp.Record(ctx, v/1000, route)
	}

	// A second meter with an instrument of the same name and kind: one
	// family of both.
	other := s.provider.Meter("flywheel.dev/test/other")
	requestsToo, _ := other.Int64Counter("requests.served", metric.WithUnit("{request}"), metric.WithDescription("Requests served."))
	requestsToo.Add(ctx, 9, metric.WithAttributes(attribute.String("http.request.method", "PUT")))
	nothing, _ := other.Int64Counter("never.recorded")
	_ = nothing

	ours, _ := s.scrapeBoth(t, "/metrics")
	if ours.status != http.StatusOK {
		t.Fatalf("status %d:\n%s", ours.status, ours.body)
	}
	want := []string{
		"batch_items histogram",
		"bytes_sent_total counter",
		"cpu_utilization_ratio gauge",
		"exp_latency_seconds histogram",
		"goroutines gauge",
		"http_client_open_connections_foo_per_bar_total counter",
		"memory_usage_mebibytes gauge",
		"payload_size_bytes histogram",
		"pool_usage gauge",
		"process_cpu_time_seconds_total counter",
		"queue_depth gauge",
		"requests_served_total counter",
		"rpc_server_duration_milliseconds histogram",
		"target_info gauge",
		"temp_rature_celsius gauge",
	}
	if diff := cmp.Diff(want, familyNames(t, ours.body)); diff != "" {
		t.Errorf("families (-want, +got):\n%s", diff)
	}
}

func TestTargetInfoCarriesTheResource(t *testing.T) {
	s := newScrapers(t, podResource())
	ours, _ := s.scrapeBoth(t, "/metrics")
	// No job or instance label: the exporter makes none of service.name
	// or service.instance.id; Prometheus sets them from the target.
	want := `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{flywheel_revision="hello-00001",flywheel_service="",k8s_namespace_name="default",k8s_pod_name="hello-00001-deployment-5c9f8d7b6-x2x7k",process_pid="1",service_instance_id="hello-00001-deployment-5c9f8d7b6-x2x7k",service_name="queue-proxy"} 1
`
	if ours.body != want {
		t.Errorf("scrape of no instrument:\n%s\nwant:\n%s", ours.body, want)
	}
}

// TestFlywheelInstrumentsMatchTheOTelPrometheusExporter scrapes the
// queue-proxy's instruments as they are made: the request duration as
// pkg/queue/sidecar makes it, and the stats of pkg/queue/stats.
func TestFlywheelInstrumentsMatchTheOTelPrometheusExporter(t *testing.T) {
	ctx := context.Background()
	s := newScrapers(t, podResource())

	// As pkg/queue/sidecar's requestMetrics (unexported there).
	durationBuckets := []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	duration, err := s.provider.Meter("flywheel.dev/pkg/queue/sidecar").Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time from a proxied request's arrival at the queue-proxy to its response's end, queue wait included"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		t.Fatal(err)
	}
	base := []attribute.KeyValue{attribute.String("k8s.namespace.name", "default"), attribute.String("flywheel.revision", "hello-00001")}
	for _, r := range []struct {
		status  int
		seconds float64
	}{{200, 0.003}, {200, 0.2}, {200, 12}, {503, 0.06}, {0, 1.5}} {
		attrs := base
		if r.status != 0 {
			attrs = append(slices.Clone(base), attribute.Int("http.response.status_code", r.status))
		}
		duration.Record(ctx, r.seconds, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}

	registerQueueStats(t, s.provider)

	ours, _ := s.scrapeBoth(t, "/metrics")
	want := []string{
		"flywheel_queue_concurrency gauge",
		"flywheel_queue_inflight_requests gauge",
		"flywheel_queue_requests_total counter",
		"http_server_request_duration_seconds histogram",
		"target_info gauge",
	}
	if diff := cmp.Diff(want, familyNames(t, ours.body)); diff != "" {
		t.Errorf("families (-want, +got):\n%s", diff)
	}
	// The lines docs/queue-stats.md shows, labels and all.
	for _, line := range []string{
		`flywheel_queue_requests_total{configuration="hello",kind="proxied",namespace="default",pod="hello-00001-deployment-5c9f8d7b6-x2x7k",revision="hello-00001",service="hello"} 2`,
		`http_server_request_duration_seconds_bucket{flywheel_revision="hello-00001",http_response_status_code="200",k8s_namespace_name="default",le="0.25"} 2`,
	} {
		if !strings.Contains(ours.body, line+"\n") {
			t.Errorf("no line %s in:\n%s", line, ours.body)
		}
	}
}

// registerQueueStats makes the queue-proxy's stats instruments of
// pkg/queue/stats on mp, with two proxied requests and a probe on a
// clock that stands still, so that both exporters read the same figures.
func registerQueueStats(t testing.TB, mp metric.MeterProvider) {
	t.Helper()
	tracker := stats.NewTracker(clocktesting.NewFakePassiveClock(time.Unix(1_700_000_000, 0)))
	tracker.In(stats.Proxied)
	tracker.In(stats.Proxied)
	tracker.Out(stats.Proxied)
	tracker.In(stats.Probe)
	labels := stats.Labels{
		Namespace: "default", Service: "hello", Configuration: "hello", Revision: "hello-00001",
		Pod: "hello-00001-deployment-5c9f8d7b6-x2x7k",
	}
	if err := stats.RegisterMetrics(mp, tracker, labels); err != nil {
		t.Fatal(err)
	}
}

func TestScrapesThatFailOrNotAsTheOTelPrometheusExporter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		resource *resource.Resource
		record   func(m metric.Meter, mp metric.MeterProvider)
		// wantStatus is both exporters' answer; wantError, a part of ours
		// when it fails.
		wantStatus int
		wantError  string
	}{{
		name: "two types under one name",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			g, _ := m.Float64Gauge("dup")
			g.Record(ctx, 1)
			h, _ := m.Float64Histogram("dup")
			h.Record(ctx, 1)
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `its name "dup" is taken by instrument "dup" of meter "flywheel.dev/test/conflicts", a gauge, and this is a histogram; rename one`,
	}, {
		name: "two attribute sets that become one label set",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			c, _ := m.Int64Counter("c")
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("a.b", "x")))
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("a_b", "x")))
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `series c_total{a_b="x"} comes twice, from instrument "c" of meter "flywheel.dev/test/conflicts" and from instrument "c"`,
	}, {
		name: "one series from two meters",
		record: func(_ metric.Meter, mp metric.MeterProvider) {
			for _, scope := range []string{"one", "two"} {
				c, _ := mp.Meter(scope).Int64Counter("c")
				c.Add(ctx, 1)
			}
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `series c_total{} comes twice, from instrument "c" of meter "one" and from instrument "c" of meter "two"`,
	}, {
		name: "a reserved label name",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			c, _ := m.Int64Counter("c")
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("__name__", "x")))
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `attribute "__name__": its label name "__name__" starts with __, which Prometheus reserves; rename the attribute`,
	}, {
		name: "a key of no letter or digit",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			c, _ := m.Int64Counter("c")
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("..", "x")))
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `attribute "..": its label name would be "_"`,
	}, {
		name: "a value that is not UTF-8",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			c, _ := m.Int64Counter("c")
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "\xff")))
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `attribute "k": its value "\xff" is not UTF-8`,
	}, {
		name: "a name of no letter or digit",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			// The SDK says the name is invalid, and makes the instrument.
			g, _ := m.Float64Gauge("-.-")
			g.Record(ctx, 1)
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `instrument "-.-": no letter or digit in its name`,
	}, {
		name: "a name that collides with a histogram's lines",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			h, _ := m.Float64Histogram("h")
			h.Record(ctx, 1)
			g, _ := m.Float64Gauge("h.count")
			g.Record(ctx, 1)
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `its name "h_count" collides with the histogram "h"`,
	}, {
		name: "an instrument named as the resource's",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			g, _ := m.Float64Gauge("target.info", metric.WithDescription("mine"))
			g.Record(ctx, 1, metric.WithAttributes(attribute.String("k", "v")))
		},
		wantStatus: http.StatusInternalServerError,
		wantError:  `its name "target_info" is the resource's`,
	}, {
		name: "two descriptions under one name: the first is the HELP",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			first, _ := m.Int64Counter("c", metric.WithDescription("first"))
			first.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "1")))
			second, _ := m.Int64Counter("c", metric.WithDescription("second"))
			second.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "2")))
		},
		wantStatus: http.StatusOK,
	}, {
		name:     "a resource attribute that cannot be a label: no target_info",
		resource: resource.NewSchemaless(attribute.String("service.name", "x"), attribute.String("__reserved__", "y")),
		record: func(m metric.Meter, _ metric.MeterProvider) {
			c, _ := m.Int64Counter("c")
			c.Add(ctx, 1)
		},
		wantStatus: http.StatusOK,
	}, {
		name: "a callback that fails: the rest is served",
		record: func(m metric.Meter, _ metric.MeterProvider) {
			_, _ = m.Int64ObservableGauge("failing", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(1)
				return errors.New("the app did not answer")
			}))
			c, _ := m.Int64Counter("c")
			c.Add(ctx, 1)
		},
		wantStatus: http.StatusOK,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.resource
			if res == nil {
				res = podResource()
			}
			s := newScrapers(t, res)
			tc.record(s.provider.Meter("flywheel.dev/test/conflicts"), s.provider)
			ours, _ := s.scrapeBoth(t, "/metrics")
			if ours.status != tc.wantStatus {
				t.Fatalf("status %d, want %d:\n%s", ours.status, tc.wantStatus, ours.body)
			}
			if tc.wantError != "" && !strings.Contains(ours.body, tc.wantError) {
				t.Errorf("error %q, want it to say %q", ours.body, tc.wantError)
			}
		})
	}
}
