package providers

import (
	"fmt"

	"flywheel.dev/pkg/telemetry/obsconfig"
	"flywheel.dev/pkg/telemetry/otlp"
)

// ConfigMapName is the ConfigMap, in the system namespace, that
// configures every component's metrics and traces.
const ConfigMapName = "config-observability"

// The keys of ConfigMapName that this package reads, Knative's.
const (
	KeyMetricsProtocol       = obsconfig.KeyMetricsProtocol
	KeyMetricsEndpoint       = obsconfig.KeyMetricsEndpoint
	KeyMetricsExportInterval = obsconfig.KeyMetricsExportInterval
	KeyTracingProtocol       = obsconfig.KeyTracingProtocol
	KeyTracingEndpoint       = obsconfig.KeyTracingEndpoint
	KeyTracingSamplingRate   = obsconfig.KeyTracingSamplingRate
)

// DefaultPrometheusAddress is where metrics are served for Prometheus to
// scrape when metrics-endpoint does not say, the port knative.dev/pkg's
// components use too.
const DefaultPrometheusAddress = ":9090"

// Config is what ConfigMapName says about metrics and traces.
type Config struct {
	Metrics obsconfig.Metrics
	Tracing obsconfig.Tracing
}

// DefaultConfig is the configuration without a ConfigMap: metrics served
// for Prometheus, tracing off.
func DefaultConfig() Config {
	return Config{
		Metrics: obsconfig.Metrics{Protocol: obsconfig.ProtocolPrometheus},
		Tracing: obsconfig.Tracing{Protocol: obsconfig.ProtocolNone},
	}
}

// ParseConfig reads the ConfigMap's data as knative.dev/pkg's parsers
// do (package obsconfig), so that every component understands the keys
// alike; a missing metrics-protocol means Prometheus. An error names the
// ConfigMap and the key.
func ParseConfig(data map[string]string) (Config, error) {
	m, err := obsconfig.ParseMetrics(data)
	if err != nil {
		return Config{}, fmt.Errorf("ConfigMap %s: %w", ConfigMapName, err)
	}
	t, err := obsconfig.ParseTracing(data)
	if err != nil {
		return Config{}, fmt.Errorf("ConfigMap %s: %w", ConfigMapName, err)
	}
	// The parsers take any endpoint; an OTLP exporter needs a URL.
	if m.Protocol == obsconfig.ProtocolGRPC || m.Protocol == obsconfig.ProtocolHTTPProtobuf {
		if _, err := otlp.ParseEndpoint(m.Endpoint, "metrics"); err != nil {
			return Config{}, fmt.Errorf("ConfigMap %s: %s %q with %s %q: %w",
				ConfigMapName, KeyMetricsEndpoint, m.Endpoint, KeyMetricsProtocol, m.Protocol, err)
		}
	}
	if t.Protocol == obsconfig.ProtocolGRPC || t.Protocol == obsconfig.ProtocolHTTPProtobuf {
		if _, err := otlp.ParseEndpoint(t.Endpoint, "traces"); err != nil {
			return Config{}, fmt.Errorf("ConfigMap %s: %s %q with %s %q: %w",
				ConfigMapName, KeyTracingEndpoint, t.Endpoint, KeyTracingProtocol, t.Protocol, err)
		}
	}
	if _, ok := data[KeyMetricsProtocol]; !ok {
		m.Protocol = obsconfig.ProtocolPrometheus
	}
	return Config{Metrics: m, Tracing: t}, nil
}

// TracingOn says whether spans are recorded and exported.
func (c Config) TracingOn() bool {
	return c.Tracing.Protocol != obsconfig.ProtocolNone && c.Tracing.SamplingRate > 0
}

// PrometheusAddress is where metrics are served for scraping when the
// protocol is prometheus.
func (c Config) PrometheusAddress() string {
	if c.Metrics.Endpoint != "" {
		return c.Metrics.Endpoint
	}
	return DefaultPrometheusAddress
}
