package revision

import (
	"context"

	"knative.dev/pkg/configmap"

	"flywheel.dev/pkg/apis/config"
)

// Config is what the Revision reconciler reads from ConfigMaps.
type Config struct {
	Deployment *config.Deployment
	Autoscaler *config.Autoscaler
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
	return c
}

// configStore keeps config-deployment and config-autoscaler.
type configStore struct {
	*configmap.UntypedStore
}

func newConfigStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *configStore {
	return &configStore{UntypedStore: configmap.NewUntypedStore("revision", logger, configmap.Constructors{
		config.DeploymentConfigName: config.NewDeploymentFromConfigMap,
		config.AutoscalerConfigName: config.NewAutoscalerFromConfigMap,
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
	return context.WithValue(ctx, configKey{}, c)
}
