package proxy

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"flywheel.dev/pkg/telemetry/providers"
)

// The gateway's instruments: OpenTelemetry's HTTP server duration, with
// the HTTPRoute and the backend (for a Knative Route, the Revision's
// Service) that served each request.
const (
	metricRequestDuration = "http.server.request.duration"

	attrMethod  = attribute.Key("http.request.method")
	attrStatus  = attribute.Key("http.response.status_code")
	attrRoute   = attribute.Key("flywheel.route")
	attrBackend = attribute.Key("flywheel.backend")
	// attrNamespace is the HTTPRoute's namespace, on spans.
	attrNamespace = attribute.Key("k8s.namespace.name")
)

// durationBuckets are the semantic conventions' advice for
// http.server.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type instruments struct {
	duration metric.Float64Histogram
}

func newInstruments(mp metric.MeterProvider) instruments {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter("flywheel.dev/pkg/gateway/proxy")
	// An error leaves a no-op instrument, which is what the SDK returns
	// with it anyway; the names are constants that are valid.
	duration, _ := m.Float64Histogram(metricRequestDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Time from a request's arrival to its response's end"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	return instruments{duration: duration}
}

// record counts one request that took since start.
func (in instruments) record(ctx context.Context, start time.Time, method string, status int, route, backend string) {
	in.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
		attrMethod.String(providers.KnownMethod(method)),
		attrStatus.Int(status),
		attrRoute.String(route),
		attrBackend.String(backend),
	))
}
