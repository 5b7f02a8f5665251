// Package obsconfig is what the config-observability ConfigMap says
// about metrics and traces, read as knative.dev/pkg reads its keys (the
// same defaults and checks, a test holds the two together; the errors
// are ours, each naming its key and what it takes).
//
// It is Flywheel's own rather than knative.dev/pkg/observability's
// metrics and tracing packages because those link every exporter they
// can build (gRPC, protobuf, the Prometheus client) into whatever reads
// the configuration: the data-path components, which export with
// packages otlpspans, otlpmetrics and promtext, would carry them for
// nothing.
package obsconfig

import (
	"fmt"
	"time"

	configmap "knative.dev/pkg/configmap/parser"
)

// The protocols config-observability names.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolPrometheus   = "prometheus"
	ProtocolNone         = "none"
	ProtocolStdout       = "stdout"
)

// The keys this package reads, Knative's.
const (
	KeyMetricsProtocol       = "metrics-protocol"
	KeyMetricsEndpoint       = "metrics-endpoint"
	KeyMetricsExportInterval = "metrics-export-interval"
	KeyTracingProtocol       = "tracing-protocol"
	KeyTracingEndpoint       = "tracing-endpoint"
	KeyTracingSamplingRate   = "tracing-sampling-rate"
)

// Metrics is where metrics go: served for Prometheus (Endpoint, if set,
// the address to listen on), pushed over OTLP (Endpoint a URL, every
// ExportInterval), or nowhere.
type Metrics struct {
	Protocol       string
	Endpoint       string
	ExportInterval time.Duration
}

// Tracing is where spans go and which share of traces is sampled.
type Tracing struct {
	Protocol     string
	Endpoint     string
	SamplingRate float64
}

// ParseMetrics reads the metrics keys of a ConfigMap's data; without
// metrics-protocol the protocol is none. An error names the key.
func ParseMetrics(data map[string]string) (Metrics, error) {
	m := Metrics{Protocol: ProtocolNone}
	if err := configmap.Parse(data,
		configmap.As(KeyMetricsProtocol, &m.Protocol),
		configmap.As(KeyMetricsEndpoint, &m.Endpoint),
		configmap.As(KeyMetricsExportInterval, &m.ExportInterval),
	); err != nil {
		return m, err
	}
	return m, m.Validate()
}

// Validate checks that the protocol is known and has the endpoint it
// needs, as knative.dev/pkg does.
func (m Metrics) Validate() error {
	switch m.Protocol {
	case ProtocolGRPC, ProtocolHTTPProtobuf:
		if m.Endpoint == "" {
			return fmt.Errorf("%s is empty: with %s %q it must be the OTLP receiver's URL", KeyMetricsEndpoint, KeyMetricsProtocol, m.Protocol)
		}
	case ProtocolNone:
		if m.Endpoint != "" {
			return fmt.Errorf("%s %q is set with %s %q, which sends nowhere: remove it or choose a protocol", KeyMetricsEndpoint, m.Endpoint, KeyMetricsProtocol, m.Protocol)
		}
	case ProtocolPrometheus:
		// The endpoint, if any, is the address to serve on.
	default:
		return fmt.Errorf("%s %q is not one of prometheus, grpc, http/protobuf or none", KeyMetricsProtocol, m.Protocol)
	}
	if m.ExportInterval < 0 {
		return fmt.Errorf("%s %s is negative: give a duration such as 30s", KeyMetricsExportInterval, m.ExportInterval)
	}
	return nil
}

// ParseTracing reads the tracing keys of a ConfigMap's data; without
// tracing-protocol tracing is off. An error names the key.
func ParseTracing(data map[string]string) (Tracing, error) {
	t := Tracing{Protocol: ProtocolNone}
	if err := configmap.Parse(data,
		configmap.As(KeyTracingProtocol, &t.Protocol),
		configmap.As(KeyTracingEndpoint, &t.Endpoint),
		configmap.As(KeyTracingSamplingRate, &t.SamplingRate),
	); err != nil {
		return t, err
	}
	return t, t.Validate()
}

// Validate checks that the protocol is known, has the endpoint it needs,
// and that the sampling rate is a share, as knative.dev/pkg does.
func (t Tracing) Validate() error {
	switch t.Protocol {
	case ProtocolGRPC, ProtocolHTTPProtobuf:
		if t.Endpoint == "" {
			return fmt.Errorf("%s is empty: with %s %q it must be the OTLP receiver's URL", KeyTracingEndpoint, KeyTracingProtocol, t.Protocol)
		}
	case ProtocolNone, ProtocolStdout:
		if t.Endpoint != "" {
			return fmt.Errorf("%s %q is set with %s %q, which sends to no receiver: remove it or choose grpc or http/protobuf", KeyTracingEndpoint, t.Endpoint, KeyTracingProtocol, t.Protocol)
		}
	default:
		return fmt.Errorf("%s %q is not one of none, grpc, http/protobuf or stdout", KeyTracingProtocol, t.Protocol)
	}
	// Written so that NaN, which ParseFloat takes, is refused too.
	if !(t.SamplingRate >= 0 && t.SamplingRate <= 1) {
		return fmt.Errorf("%s %v is not a share of traces: give a number from 0 to 1", KeyTracingSamplingRate, t.SamplingRate)
	}
	return nil
}
