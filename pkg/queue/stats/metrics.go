package stats

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"flywheel.dev/pkg/queue"
)

// The metric names as OpenTelemetry instruments; the Prometheus exporter
// turns the dots into underscores and adds _total to the counter, which
// gives the names in docs/queue-stats.md.
const (
	requestsMetric    = "flywheel.queue.requests"
	concurrencyMetric = "flywheel.queue.concurrency"
	inFlightMetric    = "flywheel.queue.inflight_requests"
)

// The label keys of every series.
const (
	labelNamespace     attribute.Key = "namespace"
	labelService       attribute.Key = "service"
	labelConfiguration attribute.Key = "configuration"
	labelRevision      attribute.Key = "revision"
	labelPod           attribute.Key = "pod"
	labelKind          attribute.Key = "kind"
)

// Mux returns the handler of the sidecar's metrics port: metrics (the
// Prometheus text of the sidecar's meter provider) at queue.MetricsPath,
// and the autoscaler's Report of t at queue.StatsPath, labelled with
// labels.
func Mux(t *Tracker, labels Labels, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(queue.MetricsPath, getOnly(metrics))
	mux.Handle(queue.StatsPath, ReportHandler(t, labels))
	return mux
}

// RegisterMetrics reports t's figures on instruments of mp, each series
// labelled with labels as it was before the sidecar's metrics moved to
// the shared telemetry setup, so that dashboards and queries keep
// working.
//
// Every instrument is observable: a collection reads one Snapshot of t,
// and a request's path through Handler does no OpenTelemetry work at all.
func RegisterMetrics(mp metric.MeterProvider, t *Tracker, labels Labels) error {
	meter := mp.Meter("flywheel.dev/pkg/queue/stats")
	requests, err := meter.Int64ObservableCounter(requestsMetric,
		metric.WithDescription("Requests that arrived at the queue-proxy, by kind: proxied to the app, or probes."),
		metric.WithUnit("{request}"))
	if err != nil {
		return fmt.Errorf("creating %s: %w", requestsMetric, err)
	}
	concurrency, err := meter.Float64ObservableGauge(concurrencyMetric,
		metric.WithDescription("Time-weighted average of the requests in flight over the latest complete second, by kind."),
		metric.WithUnit("{request}"))
	if err != nil {
		return fmt.Errorf("creating %s: %w", concurrencyMetric, err)
	}
	inFlight, err := meter.Int64ObservableGauge(inFlightMetric,
		metric.WithDescription("Requests in flight at the time of the scrape, by kind."),
		metric.WithUnit("{request}"))
	if err != nil {
		return fmt.Errorf("creating %s: %w", inFlightMetric, err)
	}

	of := func(k Kind) metric.MeasurementOption {
		return metric.WithAttributes(
			labelNamespace.String(labels.Namespace),
			labelService.String(labels.Service),
			labelConfiguration.String(labels.Configuration),
			labelRevision.String(labels.Revision),
			labelPod.String(labels.Pod),
			labelKind.String(k.String()),
		)
	}
	proxied, probe := of(Proxied), of(Probe)
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := t.Snapshot()
		o.ObserveInt64(requests, s.ProxiedRequests, proxied)
		o.ObserveInt64(requests, s.ProbeRequests, probe)
		// By kind, probes apart, so that summing over kind gives all
		// requests and selecting proxied gives what the autoscaler sees.
		last := s.LastSecond
		o.ObserveFloat64(concurrency, last.AverageProxiedConcurrency, proxied)
		o.ObserveFloat64(concurrency, last.AverageProbeConcurrency, probe)
		o.ObserveInt64(inFlight, s.InFlightProxied, proxied)
		o.ObserveInt64(inFlight, s.InFlightProbe, probe)
		return nil
	}, requests, concurrency, inFlight)
	if err != nil {
		return fmt.Errorf("registering the metrics callback: %w", err)
	}
	return nil
}
