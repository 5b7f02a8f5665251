package podscale

import (
	"context"

	"knative.dev/pkg/configmap"

	"flywheel.dev/pkg/apis/config"
)

type configKey struct{}

// AutoscalerConfig returns config-autoscaler as the ConfigStore put it
// in ctx, or its defaults.
func AutoscalerConfig(ctx context.Context) *config.Autoscaler {
	if c, ok := ctx.Value(configKey{}).(*config.Autoscaler); ok && c != nil {
		return c
	}
	return config.DefaultAutoscaler()
}

// ConfigStore keeps config-autoscaler for the PodAutoscaler reconcilers.
type ConfigStore struct {
	*configmap.UntypedStore
}

// NewConfigStore returns a ConfigStore; onAfterStore runs after each
// change.
func NewConfigStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *ConfigStore {
	return &ConfigStore{UntypedStore: configmap.NewUntypedStore("podautoscaler", logger, configmap.Constructors{
		config.AutoscalerConfigName: config.NewAutoscalerFromConfigMap,
	}, onAfterStore...)}
}

// ToContext implements reconciler.ConfigStore.
func (s *ConfigStore) ToContext(ctx context.Context) context.Context {
	a, _ := s.UntypedLoad(config.AutoscalerConfigName).(*config.Autoscaler)
	return context.WithValue(ctx, configKey{}, a)
}
