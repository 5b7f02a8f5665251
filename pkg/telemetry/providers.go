package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/telemetry/providers"
)

// The names of package providers, for the components that also watch
// the ConfigMap.
type (
	// Telemetry is a component's meter and tracer providers.
	Telemetry = providers.Telemetry
	// Config is what ConfigMapName says about metrics and traces.
	Config = providers.Config
	// Options are a component's choices that the ConfigMap does not make.
	Options = providers.Options
	// Tracer makes a proxy's spans of the requests it forwards.
	Tracer = providers.Tracer
)

// ConfigMapName and its keys, Knative's.
const (
	ConfigMapName            = providers.ConfigMapName
	KeyMetricsProtocol       = providers.KeyMetricsProtocol
	KeyMetricsEndpoint       = providers.KeyMetricsEndpoint
	KeyMetricsExportInterval = providers.KeyMetricsExportInterval
	KeyTracingProtocol       = providers.KeyTracingProtocol
	KeyTracingEndpoint       = providers.KeyTracingEndpoint
	KeyTracingSamplingRate   = providers.KeyTracingSamplingRate
	DefaultPrometheusAddress = providers.DefaultPrometheusAddress
)

// DefaultConfig is providers.DefaultConfig.
func DefaultConfig() Config { return providers.DefaultConfig() }

// ParseConfig is providers.ParseConfig.
func ParseConfig(data map[string]string) (Config, error) { return providers.ParseConfig(data) }

// New is providers.New.
func New(ctx context.Context, component string, cfg Config, log *slog.Logger, attrs ...attribute.KeyValue) (*Telemetry, error) {
	return providers.New(ctx, component, cfg, log, attrs...)
}

// NewWithOptions is providers.NewWithOptions.
func NewWithOptions(ctx context.Context, component string, cfg Config, opts Options) (*Telemetry, error) {
	return providers.NewWithOptions(ctx, component, cfg, opts)
}

// NewTracer is providers.NewTracer.
func NewTracer(tp trace.TracerProvider, name string, on func() bool) *Tracer {
	return providers.NewTracer(tp, name, on)
}
