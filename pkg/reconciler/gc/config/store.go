package config

import (
	"context"

	"knative.dev/pkg/configmap"

	apisconfig "flywheel.dev/pkg/apis/config"
)

// Config is the garbage collector's configuration at one moment.
type Config struct {
	GC *apisconfig.GC
}

type cfgKey struct{}

// FromContext returns the configuration of ctx, with the defaults for any
// part it lacks.
func FromContext(ctx context.Context) *Config {
	c := &Config{}
	if in, ok := ctx.Value(cfgKey{}).(*Config); ok && in != nil {
		*c = *in
	}
	if c.GC == nil {
		c.GC = apisconfig.DefaultGC()
	}
	return c
}

// ToContext returns ctx carrying c.
func ToContext(ctx context.Context, c *Config) context.Context {
	return context.WithValue(ctx, cfgKey{}, c)
}

// Store keeps the latest valid config-gc; a bad update keeps the last
// good one in force.
type Store struct {
	*configmap.UntypedStore
}

// NewStore returns a Store; call WatchConfigs with a configmap.Watcher to
// fill it. onAfterStore run after each change, for a global resync: new
// bounds may make Revisions collectable at once.
func NewStore(logger configmap.Logger, onAfterStore ...func(name string, value any)) *Store {
	return &Store{UntypedStore: configmap.NewUntypedStore("gc", logger,
		configmap.Constructors{apisconfig.GCConfigName: apisconfig.NewGCFromConfigMap},
		onAfterStore...)}
}

// ToContext returns ctx carrying the store's current configuration.
func (s *Store) ToContext(ctx context.Context) context.Context {
	c := &Config{}
	if g, ok := s.UntypedLoad(apisconfig.GCConfigName).(*apisconfig.GC); ok {
		c.GC = g
	}
	return ToContext(ctx, FromContext(ToContext(ctx, c)))
}
