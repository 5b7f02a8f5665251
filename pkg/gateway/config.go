package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"flywheel.dev/pkg/telemetry"
)

// Defaults of Config.
const (
	DefaultAdminAddress    = ":9091"
	DefaultDrainWindow     = 10 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultResyncPeriod    = 10 * time.Minute
)

// Config configures a gateway process.
type Config struct {
	// RESTConfig reaches the API server. It is not needed when both
	// Kube and GatewayAPI are given.
	RESTConfig *rest.Config
	// Kube and GatewayAPI are the clients to use; nil makes them from
	// RESTConfig. Tests pass fakes.
	Kube       kubernetes.Interface
	GatewayAPI versioned.Interface

	// Listen gives, for each Gateway this process serves, the address
	// (host:port) it serves that Gateway's HTTP listeners on. Gateways
	// not here are left, status included, to the processes that serve
	// them.
	Listen map[types.NamespacedName]string
	// AdminAddress serves /livez, /readyz and /healthz; empty means
	// DefaultAdminAddress.
	AdminAddress string
	// DrainWindow is how long the gateway keeps serving, while reporting
	// not ready, after it is told to stop: long enough for whatever sends
	// it traffic to notice. Zero means DefaultDrainWindow; negative means
	// none.
	DrainWindow time.Duration
	// ShutdownTimeout bounds the wait for requests still in flight after
	// the drain window; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ResyncPeriod is the informers' resync period; zero means
	// DefaultResyncPeriod.
	ResyncPeriod time.Duration
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// Meters makes the gateway's request metrics; nil makes none.
	Meters metric.MeterProvider
	// Tracer makes a span of each request; nil makes none, and the
	// caller's trace context passes through as it came.
	Tracer *telemetry.Tracer
}

// ParseListen parses a --listen value, "namespace/name=host:port", and
// adds it to listen.
func ParseListen(listen map[types.NamespacedName]string, value string) error {
	gw, addr, ok := strings.Cut(value, "=")
	ns, name, okName := strings.Cut(gw, "/")
	if !ok || !okName || ns == "" || name == "" {
		return fmt.Errorf("--listen %q: want NAMESPACE/GATEWAY=HOST:PORT, e.g. flywheel-system/flywheel-external=127.0.0.1:8080", value)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--listen %q: the address %q is not HOST:PORT: %w", value, addr, err)
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	if _, dup := listen[key]; dup {
		return fmt.Errorf("--listen %q: Gateway %s is given twice; a Gateway has one listen address", value, key)
	}
	listen[key] = addr
	return nil
}

func (c Config) withDefaults() Config {
	if c.AdminAddress == "" {
		c.AdminAddress = DefaultAdminAddress
	}
	if c.DrainWindow == 0 {
		c.DrainWindow = DefaultDrainWindow
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.ResyncPeriod == 0 {
		c.ResyncPeriod = DefaultResyncPeriod
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
