package config

import (
	"context"

	"knative.dev/pkg/configmap"
)

// Config is all of this package's configuration at one moment.
type Config struct {
	Defaults   *Defaults
	Features   *Features
	Autoscaler *Autoscaler
}

type cfgKey struct{}

// FromContext returns the configuration in ctx, or nil.
func FromContext(ctx context.Context) *Config {
	c, _ := ctx.Value(cfgKey{}).(*Config)
	return c
}

// FromContextOrDefaults returns the configuration in ctx, with the
// defaults of this package for whatever ctx lacks.
func FromContextOrDefaults(ctx context.Context) *Config {
	c := &Config{}
	if in := FromContext(ctx); in != nil {
		*c = *in
	}
	if c.Defaults == nil {
		c.Defaults = DefaultDefaults()
	}
	if c.Features == nil {
		c.Features = DefaultFeatures()
	}
	if c.Autoscaler == nil {
		c.Autoscaler = DefaultAutoscaler()
	}
	return c
}

// ToContext returns ctx carrying c.
func ToContext(ctx context.Context, c *Config) context.Context {
	return context.WithValue(ctx, cfgKey{}, c)
}

// Store keeps the latest parsed configuration of the watched ConfigMaps.
// An update that fails to parse keeps the last good values in force, and
// the failure is logged. A ConfigMap that fails to parse when first seen
// is logged at Fatal level by knative.dev/pkg's UntypedStore, ending the
// process: with no good values to fall back on, running with defaults the
// operator did not choose would be worse.
type Store struct {
	*configmap.UntypedStore
}

// NewStore returns a Store; call WatchConfigs with a configmap.Watcher to
// fill it. onAfterStore run after each change (e.g. a global resync).
func NewStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *Store {
	return &Store{UntypedStore: configmap.NewUntypedStore("flywheel-api", logger,
		configmap.Constructors{
			DefaultsConfigName:   NewDefaultsFromConfigMap,
			FeaturesConfigName:   NewFeaturesFromConfigMap,
			AutoscalerConfigName: NewAutoscalerFromConfigMap,
		},
		onAfterStore...)}
}

// ToContext returns ctx carrying the store's current configuration.
func (s *Store) ToContext(ctx context.Context) context.Context {
	return ToContext(ctx, s.Load())
}

// Load returns the store's current configuration; ConfigMaps not seen yet
// have their defaults.
func (s *Store) Load() *Config {
	c := &Config{}
	if d, ok := s.UntypedLoad(DefaultsConfigName).(*Defaults); ok {
		c.Defaults = d
	}
	if f, ok := s.UntypedLoad(FeaturesConfigName).(*Features); ok {
		c.Features = f
	}
	if a, ok := s.UntypedLoad(AutoscalerConfigName).(*Autoscaler); ok {
		c.Autoscaler = a
	}
	return FromContextOrDefaults(ToContext(context.Background(), c))
}
