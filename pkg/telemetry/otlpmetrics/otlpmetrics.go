// Package otlpmetrics is an OpenTelemetry SDK metric exporter that writes
// OTLP's ExportMetricsServiceRequest itself and sends it over HTTP or
// gRPC (package otlp), in place of the SDK's otlpmetrichttp and
// otlpmetricgrpc exporters: a receiver reads the same messages
// (TestEncodingIsTheSDKExportersEncoding), and the components no longer
// link the generated OTLP messages, the protobuf runtime and grpc-go.
package otlpmetrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/encoding/protowire"

	"flywheel.dev/pkg/telemetry/otlp"
)

// The OTLP messages' field numbers (opentelemetry-proto:
// collector/metrics/v1, metrics/v1), each named by message and field.
const (
	requestResourceMetrics = 1

	resourceMetricsResource     = 1
	resourceMetricsScopeMetrics = 2
	resourceMetricsSchemaURL    = 3

	scopeMetricsScope     = 1
	scopeMetricsMetrics   = 2
	scopeMetricsSchemaURL = 3

	scopeAttributes = 3

	metricName                 = 1
	metricDescription          = 2
	metricUnit                 = 3
	metricGauge                = 5
	metricSum                  = 7
	metricHistogram            = 9
	metricExponentialHistogram = 10
	metricSummary              = 11

	// Gauge, Sum, Histogram, ExponentialHistogram and Summary all hold
	// their points in field 1, and the last three their temporality in
	// 2.
	dataPoints      = 1
	dataTemporality = 2
	sumIsMonotonic  = 3

	numberAttributes = 7
	numberStartTime  = 2
	numberTime       = 3
	numberAsDouble   = 4
	numberExemplars  = 5
	numberAsInt      = 6

	histogramAttributes     = 9
	histogramStartTime      = 2
	histogramTime           = 3
	histogramCount          = 4
	histogramSum            = 5
	histogramBucketCounts   = 6
	histogramExplicitBounds = 7
	histogramExemplars      = 8
	histogramMin            = 11
	histogramMax            = 12

	expAttributes = 1
	expStartTime  = 2
	expTime       = 3
	expCount      = 4
	expSum        = 5
	expScale      = 6
	expZeroCount  = 7
	expPositive   = 8
	expNegative   = 9
	expExemplars  = 11
	expMin        = 12
	expMax        = 13

	bucketsOffset = 1
	bucketsCounts = 2

	summaryAttributes = 7
	summaryStartTime  = 2
	summaryTime       = 3
	summaryCount      = 4
	summarySum        = 5
	summaryQuantiles  = 6

	quantileQuantile = 1
	quantileValue    = 2

	exemplarFilteredAttributes = 7
	exemplarTime               = 2
	exemplarAsDouble           = 3
	exemplarSpanID             = 4
	exemplarTraceID            = 5
	exemplarAsInt              = 6
)

// OTLP's aggregation temporalities.
const (
	temporalityDelta      = 1
	temporalityCumulative = 2
)

// Exporter sends each export to one OTLP receiver. Export, ForceFlush
// and Shutdown are safe to call concurrently.
type Exporter struct {
	sender otlp.Sender

	// mu serialises exports, which share body.
	mu       sync.Mutex
	body     []byte
	shutdown bool
}

// New returns an exporter that sends with sender.
func New(sender otlp.Sender) *Exporter {
	return &Exporter{sender: sender}
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// Temporality is cumulative for every instrument, as the SDK's OTLP
// exporters have it by default.
func (e *Exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

// Aggregation is the SDK's default for each instrument kind.
func (e *Exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

var errShutdown = errors.New("otlpmetrics: the exporter is shut down")

// Export sends rm, retrying while the receiver says it may take it later
// and ctx allows. What cannot be encoded (an aggregation or temporality
// unknown to OTLP) is left out and named in the error; the rest is sent.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return errShutdown
	}
	var encodeErr error
	e.body, encodeErr = appendRequest(e.body[:0], rm)
	if err := otlp.SendRetrying(ctx, e.sender, e.body); err != nil {
		return errors.Join(fmt.Errorf("otlpmetrics: sending metrics: %w", err), encodeErr)
	}
	return encodeErr
}

// ForceFlush has nothing to flush: every export is sent as it comes.
func (e *Exporter) ForceFlush(ctx context.Context) error { return ctx.Err() }

// Shutdown lets go of the receiver's connections; later exports fail.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutdown {
		return errShutdown
	}
	e.shutdown = true
	e.sender.Close()
	return ctx.Err()
}

// appendRequest appends rm as an ExportMetricsServiceRequest: the
// mapping of the SDK's OTLP exporters, field for field.
func appendRequest(dst []byte, rm *metricdata.ResourceMetrics) ([]byte, error) {
	var errs []error
	var resourceMetrics, scope, metrics, metric []byte
	resourceMetrics = otlp.AppendMessage(resourceMetrics, resourceMetricsResource, otlp.Resource(rm.Resource.Attributes()))
	for _, sm := range rm.ScopeMetrics {
		scope = otlp.Scope(scope[:0], sm.Scope.Name, sm.Scope.Version)
		scope = appendAttributes(scope, scopeAttributes, sm.Scope.Attributes.ToSlice())
		metrics = otlp.AppendMessage(metrics[:0], scopeMetricsScope, scope)
		for _, m := range sm.Metrics {
			var err error
			metric, err = appendMetric(metric[:0], m)
			if err != nil {
				errs = append(errs, fmt.Errorf("metric %s: %w", m.Name, err))
				continue
			}
			metrics = otlp.AppendMessage(metrics, scopeMetricsMetrics, metric)
		}
		if sm.Scope.SchemaURL != "" {
			metrics = otlp.AppendString(metrics, scopeMetricsSchemaURL, sm.Scope.SchemaURL)
		}
		resourceMetrics = otlp.AppendMessage(resourceMetrics, resourceMetricsScopeMetrics, metrics)
	}
	if url := rm.Resource.SchemaURL(); url != "" {
		resourceMetrics = otlp.AppendString(resourceMetrics, resourceMetricsSchemaURL, url)
	}
	return otlp.AppendMessage(dst, requestResourceMetrics, resourceMetrics), errors.Join(errs...)
}

var (
	errUnknownAggregation = errors.New("an aggregation OTLP does not know")
	errUnknownTemporality = errors.New("a temporality OTLP does not know")
)

func appendMetric(b []byte, m metricdata.Metrics) ([]byte, error) {
	var (
		data  []byte
		field protowire.Number
		err   error
	)
	switch a := m.Data.(type) {
	case metricdata.Gauge[int64]:
		field, data = metricGauge, appendNumberPoints(nil, a.DataPoints)
	case metricdata.Gauge[float64]:
		field, data = metricGauge, appendNumberPoints(nil, a.DataPoints)
	case metricdata.Sum[int64]:
		field, data = metricSum, appendNumberPoints(nil, a.DataPoints)
		data, err = appendSumHeader(data, a.Temporality, a.IsMonotonic)
	case metricdata.Sum[float64]:
		field, data = metricSum, appendNumberPoints(nil, a.DataPoints)
		data, err = appendSumHeader(data, a.Temporality, a.IsMonotonic)
	case metricdata.Histogram[int64]:
		field, data = metricHistogram, appendHistogramPoints(nil, a.DataPoints)
		data, err = appendTemporality(data, a.Temporality)
	case metricdata.Histogram[float64]:
		field, data = metricHistogram, appendHistogramPoints(nil, a.DataPoints)
		data, err = appendTemporality(data, a.Temporality)
	case metricdata.ExponentialHistogram[int64]:
		field, data = metricExponentialHistogram, appendExponentialPoints(nil, a.DataPoints)
		data, err = appendTemporality(data, a.Temporality)
	case metricdata.ExponentialHistogram[float64]:
		field, data = metricExponentialHistogram, appendExponentialPoints(nil, a.DataPoints)
		data, err = appendTemporality(data, a.Temporality)
	case metricdata.Summary:
		field, data = metricSummary, appendSummaryPoints(nil, a.DataPoints)
	default:
		return b, fmt.Errorf("%w: %T", errUnknownAggregation, a)
	}
	if err != nil {
		return b, err
	}
	b = otlp.AppendString(b, metricName, m.Name)
	if m.Description != "" {
		b = otlp.AppendString(b, metricDescription, m.Description)
	}
	if m.Unit != "" {
		b = otlp.AppendString(b, metricUnit, m.Unit)
	}
	// A oneof is written even when its message is empty, so that the
	// receiver knows the metric's type.
	return otlp.AppendMessage(b, field, data), nil
}

// appendTemporality appends the temporality field of a Sum or a
// histogram after its points (a field's place in a message is free).
func appendTemporality(b []byte, t metricdata.Temporality) ([]byte, error) {
	switch t {
	case metricdata.DeltaTemporality:
		return otlp.AppendVarint(b, dataTemporality, temporalityDelta), nil
	case metricdata.CumulativeTemporality:
		return otlp.AppendVarint(b, dataTemporality, temporalityCumulative), nil
	}
	return b, fmt.Errorf("%w: %s", errUnknownTemporality, t)
}

func appendSumHeader(b []byte, t metricdata.Temporality, monotonic bool) ([]byte, error) {
	b, err := appendTemporality(b, t)
	if monotonic {
		b = otlp.AppendVarint(b, sumIsMonotonic, 1)
	}
	return b, err
}

func appendNumberPoints[N int64 | float64](b []byte, points []metricdata.DataPoint[N]) []byte {
	var p []byte
	for _, dp := range points {
		p = appendAttributes(p[:0], numberAttributes, dp.Attributes.ToSlice())
		p = appendTimes(p, numberStartTime, numberTime, dp.StartTime, dp.Time)
		p = appendNumber(p, numberAsInt, numberAsDouble, dp.Value)
		p = appendExemplars(p, numberExemplars, dp.Exemplars)
		b = otlp.AppendMessage(b, dataPoints, p)
	}
	return b
}

func appendHistogramPoints[N int64 | float64](b []byte, points []metricdata.HistogramDataPoint[N]) []byte {
	var p []byte
	for _, dp := range points {
		p = appendAttributes(p[:0], histogramAttributes, dp.Attributes.ToSlice())
		p = appendTimes(p, histogramStartTime, histogramTime, dp.StartTime, dp.Time)
		p = appendFixed64IfSet(p, histogramCount, dp.Count)
		p = otlp.AppendDouble(p, histogramSum, float64(dp.Sum)) // optional: always present
		p = appendPackedFixed64(p, histogramBucketCounts, dp.BucketCounts)
		p = appendPackedDoubles(p, histogramExplicitBounds, dp.Bounds)
		p = appendExemplars(p, histogramExemplars, dp.Exemplars)
		if v, ok := dp.Min.Value(); ok {
			p = otlp.AppendDouble(p, histogramMin, float64(v))
		}
		if v, ok := dp.Max.Value(); ok {
			p = otlp.AppendDouble(p, histogramMax, float64(v))
		}
		b = otlp.AppendMessage(b, dataPoints, p)
	}
	return b
}

func appendExponentialPoints[N int64 | float64](b []byte, points []metricdata.ExponentialHistogramDataPoint[N]) []byte {
	var p []byte
	for _, dp := range points {
		p = appendAttributes(p[:0], expAttributes, dp.Attributes.ToSlice())
		p = appendTimes(p, expStartTime, expTime, dp.StartTime, dp.Time)
		p = appendFixed64IfSet(p, expCount, dp.Count)
		p = otlp.AppendDouble(p, expSum, float64(dp.Sum))
		if dp.Scale != 0 {
			p = protowire.AppendTag(p, expScale, protowire.VarintType)
			p = protowire.AppendVarint(p, protowire.EncodeZigZag(int64(dp.Scale)))
		}
		p = appendFixed64IfSet(p, expZeroCount, dp.ZeroCount)
		p = otlp.AppendMessage(p, expPositive, appendBuckets(nil, dp.PositiveBucket))
		p = otlp.AppendMessage(p, expNegative, appendBuckets(nil, dp.NegativeBucket))
		p = appendExemplars(p, expExemplars, dp.Exemplars)
		if v, ok := dp.Min.Value(); ok {
			p = otlp.AppendDouble(p, expMin, float64(v))
		}
		if v, ok := dp.Max.Value(); ok {
			p = otlp.AppendDouble(p, expMax, float64(v))
		}
		// zero_threshold stays 0, as the SDK's exporters leave it.
		b = otlp.AppendMessage(b, dataPoints, p)
	}
	return b
}

func appendBuckets(b []byte, bucket metricdata.ExponentialBucket) []byte {
	if bucket.Offset != 0 {
		b = protowire.AppendTag(b, bucketsOffset, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(bucket.Offset)))
	}
	if len(bucket.Counts) > 0 {
		var packed []byte
		for _, c := range bucket.Counts {
			packed = protowire.AppendVarint(packed, c)
		}
		b = otlp.AppendMessage(b, bucketsCounts, packed)
	}
	return b
}

func appendSummaryPoints(b []byte, points []metricdata.SummaryDataPoint) []byte {
	var p, q []byte
	for _, dp := range points {
		p = appendAttributes(p[:0], summaryAttributes, dp.Attributes.ToSlice())
		p = appendTimes(p, summaryStartTime, summaryTime, dp.StartTime, dp.Time)
		p = appendFixed64IfSet(p, summaryCount, dp.Count)
		if dp.Sum != 0 {
			p = otlp.AppendDouble(p, summarySum, dp.Sum)
		}
		for _, qv := range dp.QuantileValues {
			q = q[:0]
			if qv.Quantile != 0 {
				q = otlp.AppendDouble(q, quantileQuantile, qv.Quantile)
			}
			if qv.Value != 0 {
				q = otlp.AppendDouble(q, quantileValue, qv.Value)
			}
			p = otlp.AppendMessage(p, summaryQuantiles, q)
		}
		b = otlp.AppendMessage(b, dataPoints, p)
	}
	return b
}

func appendExemplars[N int64 | float64](b []byte, field protowire.Number, exemplars []metricdata.Exemplar[N]) []byte {
	var e []byte
	for _, ex := range exemplars {
		e = appendAttributes(e[:0], exemplarFilteredAttributes, ex.FilteredAttributes)
		e = appendTimes(e, 0, exemplarTime, time.Time{}, ex.Time)
		e = appendNumber(e, exemplarAsInt, exemplarAsDouble, ex.Value)
		if len(ex.SpanID) > 0 {
			e = otlp.AppendBytes(e, exemplarSpanID, ex.SpanID)
		}
		if len(ex.TraceID) > 0 {
			e = otlp.AppendBytes(e, exemplarTraceID, ex.TraceID)
		}
		b = otlp.AppendMessage(b, field, e)
	}
	return b
}

func appendAttributes(b []byte, field protowire.Number, attrs []attribute.KeyValue) []byte {
	for _, kv := range attrs {
		b = otlp.AppendKeyValue(b, field, kv)
	}
	return b
}

// appendTimes appends a point's start (when startField is not 0) and
// time, in nanoseconds since the epoch, a zero or earlier time as 0
// (left out, as proto3 leaves a zero).
func appendTimes(b []byte, startField, timeField protowire.Number, start, at time.Time) []byte {
	if startField != 0 {
		b = appendFixed64IfSet(b, startField, unixNano(start))
	}
	return appendFixed64IfSet(b, timeField, unixNano(at))
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano()))
}

// appendNumber appends a value of a oneof of as_int and as_double: set
// even at zero, since which of the two it is says the type.
func appendNumber[N int64 | float64](b []byte, intField, doubleField protowire.Number, v N) []byte {
	switch v := any(v).(type) {
	case int64:
		return otlp.AppendFixed64(b, intField, uint64(v))
	case float64:
		return otlp.AppendDouble(b, doubleField, v)
	}
	return b
}

func appendFixed64IfSet(b []byte, field protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return otlp.AppendFixed64(b, field, v)
}

func appendPackedFixed64(b []byte, field protowire.Number, vs []uint64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, v)
	}
	return b
}

func appendPackedDoubles(b []byte, field protowire.Number, vs []float64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	}
	return b
}
