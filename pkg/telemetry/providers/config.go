package providers

import (
	"fmt"
	"strings"

	"knative.dev/pkg/observability/metrics"
	"knative.dev/pkg/observability/tracing"

	"flywheel.dev/pkg/telemetry/otlpspans"
)

// ConfigMapName is the ConfigMap, in the system namespace, that
// configures every component's metrics and traces.
const ConfigMapName = "config-observability"

// The keys of ConfigMapName that this package reads, Knative's.
const (
	KeyMetricsProtocol       = "metrics-protocol"
	KeyMetricsEndpoint       = "metrics-endpoint"
	KeyMetricsExportInterval = "metrics-export-interval"
	KeyTracingProtocol       = "tracing-protocol"
	KeyTracingEndpoint       = "tracing-endpoint"
	KeyTracingSamplingRate   = "tracing-sampling-rate"
)

// DefaultPrometheusAddress is where metrics are served for Prometheus to
// scrape when metrics-endpoint does not say, the port knative.dev/pkg's
// components use too.
const DefaultPrometheusAddress = ":9090"

// Config is what ConfigMapName says about metrics and traces.
type Config struct {
	Metrics metrics.Config
	Tracing tracing.Config
}

// DefaultConfig is the configuration without a ConfigMap: metrics served
// for Prometheus, tracing off.
func DefaultConfig() Config {
	return Config{
		Metrics: metrics.Config{Protocol: metrics.ProtocolPrometheus},
		Tracing: tracing.Config{Protocol: tracing.ProtocolNone},
	}
}

// ParseConfig reads the ConfigMap's data with knative.dev/pkg's parsers,
// so that every component understands the keys alike; a missing
// metrics-protocol means Prometheus. An error names the ConfigMap, the
// key and what it takes.
func ParseConfig(data map[string]string) (Config, error) {
	m, err := metrics.NewFromMap(data)
	if err != nil {
		return Config{}, explain(data, err, KeyMetricsProtocol, KeyMetricsEndpoint, KeyMetricsExportInterval,
			"prometheus (metrics-endpoint, if set, is the host:port to serve them on), grpc or http/protobuf (metrics-endpoint an OTLP URL), or none")
	}
	t, err := tracing.NewFromMap(data)
	if err != nil {
		return Config{}, explain(data, err, KeyTracingProtocol, KeyTracingEndpoint, KeyTracingSamplingRate,
			"none, grpc or http/protobuf (tracing-endpoint an OTLP URL), or stdout; tracing-sampling-rate from 0 to 1")
	}
	if t.Protocol == tracing.ProtocolGRPC || t.Protocol == tracing.ProtocolHTTPProtobuf {
		// The parser takes any endpoint; an OTLP exporter needs a URL.
		if _, err := otlpspans.ParseEndpoint(t.Endpoint); err != nil {
			return Config{}, fmt.Errorf("ConfigMap %s: %s %q with %s %q: %w",
				ConfigMapName, KeyTracingEndpoint, t.Endpoint, KeyTracingProtocol, t.Protocol, err)
		}
	}
	if _, ok := data[KeyMetricsProtocol]; !ok {
		m.Protocol = metrics.ProtocolPrometheus
	}
	return Config{Metrics: m, Tracing: t}, nil
}

// explain says which key of a group (protocol, endpoint, a number) the
// parser refused: its own messages name neither the ConfigMap nor, for
// a protocol, the key.
func explain(data map[string]string, err error, protocol, endpoint, number, want string) error {
	key := protocol
	switch msg := err.Error(); {
	case strings.Contains(msg, number), strings.Contains(msg, "interval"), strings.Contains(msg, "sampling rate"):
		key = number
	case strings.Contains(msg, "endpoint"):
		key = endpoint
	}
	return fmt.Errorf("ConfigMap %s: %s %q with %s %q: %w; want %s",
		ConfigMapName, key, data[key], protocol, data[protocol], err, want)
}

// TracingOn says whether spans are recorded and exported.
func (c Config) TracingOn() bool {
	return c.Tracing.Protocol != tracing.ProtocolNone && c.Tracing.SamplingRate > 0
}

// PrometheusAddress is where metrics are served for scraping when the
// protocol is prometheus.
func (c Config) PrometheusAddress() string {
	if c.Metrics.Endpoint != "" {
		return c.Metrics.Endpoint
	}
	return DefaultPrometheusAddress
}
