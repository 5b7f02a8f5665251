package promtext_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"flywheel.dev/pkg/telemetry/promtext"
)

func TestServesTextWhateverTheScraperAccepts(t *testing.T) {
	s := newScrapers(t, podResource())
	c, _ := s.provider.Meter("flywheel.dev/test/http").Int64Counter("c")
	c.Add(context.Background(), 1)

	for _, accept := range []string{
		"",
		"text/plain;version=0.0.4;q=1,*/*;q=0.1",
		// Prometheus with native histograms asks for protobuf first;
		// promhttp would answer with it.
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
		"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", accept)
		s.ours.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != promtext.ContentType {
			t.Errorf("Accept %q: status %d, Content-Type %q; want 200, %q", accept, rec.Code, rec.Header().Get("Content-Type"), promtext.ContentType)
		}
		if len(parse(t, rec.Body.String())) == 0 || !strings.Contains(rec.Body.String(), "\nc_total 1\n") {
			t.Errorf("Accept %q: body\n%s\nwant c_total 1", accept, rec.Body.String())
		}
	}
}

func TestNameFilterKeepsTheFamiliesNamed(t *testing.T) {
	s := newScrapers(t, podResource())
	m := s.provider.Meter("flywheel.dev/test/http")
	c, _ := m.Int64Counter("c")
	c.Add(context.Background(), 1)
	g, _ := m.Int64Gauge("g")
	g.Record(context.Background(), 1)

	ours, _ := s.scrapeBoth(t, "/metrics?name[]=c_total&name[]=target_info&name[]=absent")
	if diff := cmp.Diff([]string{"c_total counter", "target_info gauge"}, familyNames(t, ours.body)); diff != "" {
		t.Errorf("families (-want, +got):\n%s", diff)
	}
}

// TestAScrapeOfAShutDownProviderFails: the OpenTelemetry exporter serves
// an empty page then, which a scraper takes for a target with no series.
func TestAScrapeOfAShutDownProviderFails(t *testing.T) {
	e := promtext.New()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.Reader()))
	if err := mp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := get(t, e, "/metrics")
	if got.status != http.StatusInternalServerError || !strings.Contains(got.body, "collecting metrics: reader is shutdown") {
		t.Errorf("status %d, body %q; want 500 that says the reader is shut down", got.status, got.body)
	}
	var out bytes.Buffer
	if err := e.WriteText(context.Background(), &out); err == nil || out.Len() != 0 {
		t.Errorf("WriteText = %v after writing %q; want an error and nothing written", err, out.String())
	}
}

func TestAScrapeOfAReaderOfNoProviderFails(t *testing.T) {
	got := get(t, promtext.New(), "/metrics")
	if got.status != http.StatusInternalServerError || !strings.Contains(got.body, "reader is not registered") {
		t.Errorf("status %d, body %q; want 500 that says the reader is not registered", got.status, got.body)
	}
}

func TestWriteTextWritesWhatIsServed(t *testing.T) {
	s := newScrapers(t, podResource())
	h, _ := s.provider.Meter("flywheel.dev/test/http").Float64Histogram("h", metric.WithUnit("s"))
	h.Record(context.Background(), 0.3, metric.WithAttributes(attribute.String("k", "v")))

	var out bytes.Buffer
	if err := s.ours.WriteText(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(get(t, s.ours, "/metrics").body, out.String()); diff != "" {
		t.Errorf("WriteText (-served, +written):\n%s", diff)
	}
}

// TestLinksNoPrometheusModule holds the package to its reason to be: a
// binary that links it links none of Prometheus' Go modules.
func TestLinksNoPrometheusModule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(strings.ToLower(pkg), "prometheus") {
			t.Errorf("links %s", pkg)
		}
	}
}

// BenchmarkScrape is one scrape of the queue-proxy's instruments, by this
// package and by the OpenTelemetry exporter through promhttp.
func BenchmarkScrape(b *testing.B) {
	s := newScrapers(b, podResource())
	recordSidecarTraffic(b, s.provider)
	for _, bc := range []struct {
		name    string
		handler http.Handler
	}{{"promtext", s.ours}, {"otelprom+promhttp", s.theirs}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestBenchmarkScrapeServes runs what BenchmarkScrape measures once, so
// that a benchmark nobody runs cannot rot.
func TestBenchmarkScrapeServes(t *testing.T) {
	s := newScrapers(t, podResource())
	recordSidecarTraffic(t, s.provider)
	ours, _ := s.scrapeBoth(t, "/metrics")
	if ours.status != http.StatusOK {
		t.Fatalf("status %d: %s", ours.status, ours.body)
	}
}

// recordSidecarTraffic records what a busy sidecar has: durations of a
// few status codes, and the stats instruments.
func recordSidecarTraffic(tb testing.TB, mp *sdkmetric.MeterProvider) {
	tb.Helper()
	duration, err := mp.Meter("flywheel.dev/pkg/queue/sidecar").Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	if err != nil {
		tb.Fatal(err)
	}
	for i, status := range []int{200, 201, 204, 301, 404, 500, 503} {
		set := attribute.NewSet(
			attribute.String("k8s.namespace.name", "default"),
			attribute.String("flywheel.revision", "hello-00001"),
			attribute.Int("http.response.status_code", status),
		)
		duration.Record(context.Background(), float64(i)/10, metric.WithAttributeSet(set))
	}
	registerQueueStats(tb, mp)
}
