package kpa

import (
	"context"

	"knative.dev/pkg/configmap"

	"flywheel.dev/pkg/apis/config"
)

type configKey struct{}

// autoscalerConfig returns config-autoscaler as stored in ctx, or its
// defaults.
func autoscalerConfig(ctx context.Context) *config.Autoscaler {
	if c, ok := ctx.Value(configKey{}).(*config.Autoscaler); ok && c != nil {
		return c
	}
	return config.DefaultAutoscaler()
}

// configStore keeps config-autoscaler.
type configStore struct {
	*configmap.UntypedStore
}

func newConfigStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *configStore {
	return &configStore{UntypedStore: configmap.NewUntypedStore("kpa", logger, configmap.Constructors{
		config.AutoscalerConfigName: config.NewAutoscalerFromConfigMap,
	}, onAfterStore...)}
}

// ToContext implements reconciler.ConfigStore.
func (s *configStore) ToContext(ctx context.Context) context.Context {
	a, _ := s.UntypedLoad(config.AutoscalerConfigName).(*config.Autoscaler)
	return context.WithValue(ctx, configKey{}, a)
}
