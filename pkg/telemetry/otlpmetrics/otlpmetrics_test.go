package otlpmetrics

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/telemetry/otlp"
	"flywheel.dev/pkg/telemetry/otlp/otlptest"
)

// receiver is an OTLP/HTTP receiver of metrics.
type receiver = otlptest.Receiver[colmetricpb.ExportMetricsServiceRequest, *colmetricpb.ExportMetricsServiceRequest]

func newReceiver(t *testing.T) *receiver {
	return otlptest.NewReceiver[colmetricpb.ExportMetricsServiceRequest](t)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// collected is what a MeterProvider with every kind of synchronous and
// asynchronous instrument collects, plus the aggregations no instrument
// makes by default (exponential histograms, summaries, delta sums) and
// exemplars, written by hand.
func collected(t *testing.T) *metricdata.ResourceMetrics {
	res, err := resource.New(context.Background(),
		resource.WithAttributes(attribute.String("service.name", "queue-proxy"), attribute.Int("k8s.pod.index", 3)),
		resource.WithSchemaURL("https://opentelemetry.io/schemas/1.37.0"))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "exp.*"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 20, MaxScale: 5}})))
	ctx := context.Background()
	m := mp.Meter("flywheel.dev/test", metric.WithInstrumentationVersion("v1"),
		metric.WithSchemaURL("https://opentelemetry.io/schemas/1.26.0"),
		metric.WithInstrumentationAttributes(attribute.String("scope.key", "v")))
	other := mp.Meter("other")
	attrs := metric.WithAttributes(attribute.String("k8s.namespace.name", "default"), attribute.Int("http.response.status_code", 200),
		attribute.Bool("b", true), attribute.Float64("f", 1.5), attribute.StringSlice("ss", []string{"a", ""}),
		attribute.Int64Slice("is", []int64{-1, 2}), attribute.Float64Slice("fs", []float64{0.5}), attribute.BoolSlice("bs", []bool{false}))

	ic, _ := m.Int64Counter("flywheel.queue.requests", metric.WithUnit("{request}"), metric.WithDescription("requests"))
	ic.Add(ctx, 3, attrs)
	ic.Add(ctx, 0)
	fc, _ := m.Float64Counter("f.counter", metric.WithUnit("s"))
	fc.Add(ctx, 0.25)
	iu, _ := m.Int64UpDownCounter("i.updown")
	iu.Add(ctx, -4, attrs)
	fu, _ := other.Float64UpDownCounter("f.updown")
	fu.Add(ctx, 0)
	ig, _ := m.Int64Gauge("i.gauge", metric.WithUnit("{pod}"))
	ig.Record(ctx, -7, attrs)
	fg, _ := m.Float64Gauge("f.gauge")
	fg.Record(ctx, 0)
	ih, _ := m.Int64Histogram("i.histogram", metric.WithExplicitBucketBoundaries(1, 10, 100))
	ih.Record(ctx, 5, attrs)
	ih.Record(ctx, 500)
	fh, _ := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	fh.Record(ctx, 0.003, attrs)
	fh.Record(ctx, 0.2, attrs)
	eh, _ := m.Float64Histogram("exp.histogram")
	for _, v := range []float64{0, 0.5, 3, 1000, -2} {
		eh.Record(ctx, v, attrs)
	}
	ieh, _ := m.Int64Histogram("exp.int")
	ieh.Record(ctx, 9)
	_, _ = m.Int64ObservableGauge("obs.gauge", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(42, attrs)
		return nil
	}))
	_, _ = m.Float64ObservableCounter("obs.counter", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		o.Observe(1.25)
		return nil
	}))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	exemplarSpan, exemplarTrace := []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	rm.ScopeMetrics = append(rm.ScopeMetrics, metricdata.ScopeMetrics{
		Scope: instrumentation.Scope{Name: "handmade"},
		Metrics: []metricdata.Metrics{
			{Name: "summary", Unit: "ms", Data: metricdata.Summary{DataPoints: []metricdata.SummaryDataPoint{
				{StartTime: now.Add(-time.Minute), Time: now, Count: 4, Sum: 10.5, QuantileValues: []metricdata.QuantileValue{{Quantile: 0, Value: 1}, {Quantile: 0.99, Value: 0}}},
				{Time: now},
			}}},
			{Name: "delta.sum", Data: metricdata.Sum[float64]{Temporality: metricdata.DeltaTemporality, DataPoints: []metricdata.DataPoint[float64]{
				{StartTime: now.Add(-time.Second), Time: now, Value: 2, Exemplars: []metricdata.Exemplar[float64]{
					{FilteredAttributes: []attribute.KeyValue{attribute.String("x", "y")}, Time: now, Value: 2, SpanID: exemplarSpan, TraceID: exemplarTrace},
					{Value: 0},
				}},
			}}},
			{Name: "int.exemplars", Data: metricdata.Histogram[int64]{Temporality: metricdata.CumulativeTemporality, DataPoints: []metricdata.HistogramDataPoint[int64]{
				{Time: now, Count: 1, Sum: 3, Bounds: []float64{1}, BucketCounts: []uint64{0, 1}, Min: metricdata.NewExtrema[int64](3), Max: metricdata.NewExtrema[int64](3),
					Exemplars: []metricdata.Exemplar[int64]{{Time: now, Value: 3, TraceID: exemplarTrace, SpanID: exemplarSpan}}},
			}}},
			{Name: "empty.gauge", Data: metricdata.Gauge[int64]{}},
		},
	})
	return &rm
}

// TestEncodingIsTheSDKExportersEncoding sends the same collection
// through the SDK's OTLP/HTTP exporter and ours to two receivers: what
// they decode must be the same.
func TestEncodingIsTheSDKExportersEncoding(t *testing.T) {
	rm := collected(t)
	ctx := context.Background()

	theirs := newReceiver(t)
	sdkExporter, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(theirs.URL+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sdkExporter.Export(ctx, rm); err != nil {
		t.Fatal(err)
	}
	ours := newReceiver(t)
	e := New(otlp.NewHTTPSender(mustURL(t, ours.URL+"/v1/metrics")))
	if err := e.Export(ctx, rm); err != nil {
		t.Fatal(err)
	}
	want, got := theirs.Taken(), ours.Taken()
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("the receivers took %d (the SDK's) and %d (ours) requests, want 1 each", len(want), len(got))
	}
	if diff := cmp.Diff(want[0], got[0], protocmp.Transform()); diff != "" {
		t.Errorf("what a receiver reads from ours differs from the SDK's exporter's (-SDK +ours):\n%s", diff)
	}
	if n := len(got[0].GetResourceMetrics()[0].GetScopeMetrics()); n != 3 {
		t.Errorf("%d scopes sent, want 3: the test's collection is not what it means to be", n)
	}
}

// TestExportSendsWhatItCanEncode: a metric of an aggregation OTLP does
// not know is named in the error; the others are sent.
func TestExportSendsWhatItCanEncode(t *testing.T) {
	r := newReceiver(t)
	e := New(otlp.NewHTTPSender(mustURL(t, r.URL)))
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "odd", Data: nil},
		{Name: "bad.temporality", Data: metricdata.Sum[int64]{Temporality: metricdata.Temporality(9)}},
		{Name: "fine", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Value: 1}}}},
	}}}}
	err := e.Export(context.Background(), rm)
	if err == nil {
		t.Fatal("no error for metrics OTLP cannot carry")
	}
	for _, name := range []string{"odd", "bad.temporality"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name metric %s", err, name)
		}
	}
	got := r.Taken()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	if ms := got[0].GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics(); len(ms) != 1 || ms[0].GetName() != "fine" {
		t.Errorf("sent %v, want only the metric fine", ms)
	}
}

// TestExportRetriesWhatTheReceiverMayTakeLater: a 503 is retried, a 400
// is not; after Shutdown exports fail.
func TestExportRetriesWhatTheReceiverMayTakeLater(t *testing.T) {
	r := newReceiver(t)
	r.AnswerNext(http.StatusServiceUnavailable)
	e := New(otlp.NewHTTPSender(mustURL(t, r.URL)))
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "g", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Value: 1}}}},
	}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Export(ctx, rm); err != nil {
		t.Fatalf("export after a 503: %v", err)
	}
	if n := len(r.Taken()); n != 1 {
		t.Errorf("the receiver took %d requests after a 503 and a retry, want 1", n)
	}
	r.AnswerNext(http.StatusBadRequest)
	if err := e.Export(ctx, rm); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("export answered 400: error %v, want one saying so", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, rm); err == nil {
		t.Error("an export after Shutdown did not fail")
	}
}
