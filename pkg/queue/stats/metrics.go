package stats

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

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

// Mux returns the handler of the sidecar's metrics port: Prometheus text
// at queue.MetricsPath and the autoscaler's Report at queue.StatsPath,
// both read from t and labelled with labels.
func Mux(t *Tracker, labels Labels) (http.Handler, error) {
	metrics, err := MetricsHandler(t, labels)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(queue.MetricsPath, metrics)
	mux.Handle(queue.StatsPath, ReportHandler(t, labels))
	return mux, nil
}

// MetricsHandler serves t's figures as Prometheus text through the
// OpenTelemetry Prometheus exporter, on a registry of its own so that no
// other package's globals leak into the sidecar's metrics.
//
// Every instrument is observable: a scrape reads one Snapshot of t, and a
// request's path through Handler does no OpenTelemetry work at all.
func MetricsHandler(t *Tracker, labels Labels) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	keys := []attribute.Key{labelNamespace, labelService, labelConfiguration, labelRevision, labelPod}
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		// The pod's identity goes on every series, where PromQL can
		// select and aggregate by it, rather than in a target_info
		// series that every query would have to join.
		otelprom.WithResourceAsConstantLabels(attribute.NewAllowKeysFilter(keys...)),
		otelprom.WithoutTargetInfo(),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the Prometheus exporter: %w", err)
	}
	// Schemaless and not merged with resource.Default: the SDK's own
	// attributes (service.name, telemetry.sdk.*) would only be filtered
	// out again.
	res := resource.NewSchemaless(
		labelNamespace.String(labels.Namespace),
		labelService.String(labels.Service),
		labelConfiguration.String(labels.Configuration),
		labelRevision.String(labels.Revision),
		labelPod.String(labels.Pod),
	)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithResource(res))
	meter := provider.Meter("flywheel.dev/pkg/queue/stats")

	requests, err := meter.Int64ObservableCounter(requestsMetric,
		metric.WithDescription("Requests that arrived at the queue-proxy, by kind: proxied to the app, or probes."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", requestsMetric, err)
	}
	concurrency, err := meter.Float64ObservableGauge(concurrencyMetric,
		metric.WithDescription("Time-weighted average of the requests in flight over the latest complete second, by kind."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", concurrencyMetric, err)
	}
	inFlight, err := meter.Int64ObservableGauge(inFlightMetric,
		metric.WithDescription("Requests in flight at the time of the scrape, by kind."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", inFlightMetric, err)
	}

	proxied := metric.WithAttributes(labelKind.String(Proxied.String()))
	probe := metric.WithAttributes(labelKind.String(Probe.String()))
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
		return nil, fmt.Errorf("registering the metrics callback: %w", err)
	}
	return getOnly(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})), nil
}
