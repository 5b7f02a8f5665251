package config

import (
	"context"

	"knative.dev/pkg/configmap"

	apisconfig "flywheel.dev/pkg/apis/config"
)

// Config is the routing configuration at one moment.
type Config struct {
	Network  *apisconfig.Network
	Domain   *apisconfig.Domain
	Features *apisconfig.Features
}

type cfgKey struct{}

// FromContext returns the configuration of ctx, with defaults for any part
// it lacks, so that a test can set only what it cares about.
func FromContext(ctx context.Context) *Config {
	c := &Config{}
	if in, ok := ctx.Value(cfgKey{}).(*Config); ok && in != nil {
		*c = *in
	}
	if c.Network == nil {
		c.Network = apisconfig.DefaultNetwork()
	}
	if c.Domain == nil {
		c.Domain = apisconfig.DefaultDomainConfig()
	}
	if c.Features == nil {
		c.Features = apisconfig.DefaultFeatures()
	}
	return c
}

// ToContext returns ctx carrying c.
func ToContext(ctx context.Context, c *Config) context.Context {
	return context.WithValue(ctx, cfgKey{}, c)
}

// Store keeps the latest valid version of each ConfigMap the Route
// reconciler reads; like apisconfig.Store, a bad update keeps the last
// good one in force.
type Store struct {
	*configmap.UntypedStore
}

// NewStore returns a Store; call WatchConfigs with a configmap.Watcher to
// fill it. onAfterStore run after each change, for a global resync: a new
// domain or template changes the hosts of every Route.
func NewStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *Store {
	return &Store{UntypedStore: configmap.NewUntypedStore("route", logger,
		configmap.Constructors{
			apisconfig.NetworkConfigName:  apisconfig.NewNetworkFromConfigMap,
			apisconfig.DomainConfigName:   apisconfig.NewDomainFromConfigMap,
			apisconfig.FeaturesConfigName: apisconfig.NewFeaturesFromConfigMap,
		},
		onAfterStore...)}
}

// ToContext returns ctx carrying the store's current configuration.
func (s *Store) ToContext(ctx context.Context) context.Context {
	return ToContext(ctx, s.Load())
}

// Load returns the store's current configuration.
func (s *Store) Load() *Config {
	c := &Config{}
	if n, ok := s.UntypedLoad(apisconfig.NetworkConfigName).(*apisconfig.Network); ok {
		c.Network = n
	}
	if d, ok := s.UntypedLoad(apisconfig.DomainConfigName).(*apisconfig.Domain); ok {
		c.Domain = d
	}
	if f, ok := s.UntypedLoad(apisconfig.FeaturesConfigName).(*apisconfig.Features); ok {
		c.Features = f
	}
	return FromContext(ToContext(context.Background(), c))
}
