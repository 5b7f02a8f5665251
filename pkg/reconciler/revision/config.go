package revision

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/configmap"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/telemetry"
	"flywheel.dev/pkg/telemetry/obsconfig"
)

// Config is what the Revision reconciler reads from ConfigMaps.
type Config struct {
	Deployment *config.Deployment
	Autoscaler *config.Autoscaler
	// Observability is config-observability's, for the sidecars.
	Observability *queue.Observability
}

type configKey struct{}

// configFromContext returns the configuration in ctx, with defaults for
// whatever is missing.
func configFromContext(ctx context.Context) *Config {
	c := &Config{}
	if in, ok := ctx.Value(configKey{}).(*Config); ok {
		*c = *in
	}
	if c.Deployment == nil {
		c.Deployment = config.DefaultDeployment()
	}
	if c.Autoscaler == nil {
		c.Autoscaler = config.DefaultAutoscaler()
	}
	if c.Observability == nil {
		c.Observability = &queue.Observability{}
	}
	return c
}

// newObservabilityFromConfigMap keeps what the sidecars need of
// config-observability, once every component's parser took it: a
// version that does not parse keeps the one in force (the store logs
// the error), rather than reaching every pod. The Prometheus address
// is the system components' and the sidecar serves its own port, so it
// is left out: a change of it would roll every pod for nothing.
func newObservabilityFromConfigMap(cm *corev1.ConfigMap) (*queue.Observability, error) {
	cfg, err := telemetry.ParseConfig(cm.Data)
	if err != nil {
		return nil, err
	}
	o := &queue.Observability{
		MetricsProtocol:       cm.Data[telemetry.KeyMetricsProtocol],
		MetricsExportInterval: cm.Data[telemetry.KeyMetricsExportInterval],
		TracingProtocol:       cm.Data[telemetry.KeyTracingProtocol],
		TracingEndpoint:       cm.Data[telemetry.KeyTracingEndpoint],
		TracingSamplingRate:   cm.Data[telemetry.KeyTracingSamplingRate],
	}
	if cfg.Metrics.Protocol != obsconfig.ProtocolPrometheus {
		o.MetricsEndpoint = cm.Data[telemetry.KeyMetricsEndpoint]
	}
	return o, nil
}

// configStore keeps config-deployment, config-autoscaler and
// config-observability.
type configStore struct {
	*configmap.UntypedStore
}

func newConfigStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *configStore {
	return &configStore{UntypedStore: configmap.NewUntypedStore("revision", logger, configmap.Constructors{
		config.DeploymentConfigName: config.NewDeploymentFromConfigMap,
		config.AutoscalerConfigName: config.NewAutoscalerFromConfigMap,
		telemetry.ConfigMapName:     newObservabilityFromConfigMap,
	}, onAfterStore...)}
}

// ToContext implements reconciler.ConfigStore.
func (s *configStore) ToContext(ctx context.Context) context.Context {
	c := &Config{}
	if d, ok := s.UntypedLoad(config.DeploymentConfigName).(*config.Deployment); ok {
		c.Deployment = d
	}
	if a, ok := s.UntypedLoad(config.AutoscalerConfigName).(*config.Autoscaler); ok {
		c.Autoscaler = a
	}
	if o, ok := s.UntypedLoad(telemetry.ConfigMapName).(*queue.Observability); ok {
		c.Observability = o
	}
	return context.WithValue(ctx, configKey{}, c)
}
