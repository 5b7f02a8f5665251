package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"flywheel.dev/pkg/gateway/proxy"
	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/process"
)

// Gateway is a gateway process: its listeners, bound by New, and the
// routing tables they serve.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	kube     kubernetes.Interface
	gateways versioned.Interface

	servers map[types.NamespacedName]*server
	admin   net.Listener
	// health is loaded once the first tables, built from synced caches,
	// are in place, and draining once Run's context is done. The gateway
	// is ready between the two.
	health *process.Health
}

// server serves one Gateway.
type server struct {
	gateway  types.NamespacedName
	listener net.Listener
	address  netip.AddrPort
	table    atomic.Pointer[routing.Table]
	http     *http.Server
	// fast serves the listener's plain HTTP/1.1 requests and hands the
	// rest (h2c, upgrades, what it declines) to http.
	fast  *http1.Server
	proxy *proxy.Proxy
}

// Run runs a gateway with cfg until ctx is done, then drains.
func Run(ctx context.Context, cfg Config) error {
	g, err := New(cfg)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}

// New binds the listen and admin addresses of cfg, so that a port in use
// is reported before anything runs and tests can ask for port 0.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg: cfg, log: cfg.Logger, kube: cfg.Kube, gateways: cfg.GatewayAPI,
		servers: map[types.NamespacedName]*server{}, health: process.NewHealth("routes not loaded yet"),
	}
	if len(cfg.Listen) == 0 {
		return nil, errors.New("no Gateway to serve: give at least one --listen NAMESPACE/GATEWAY=HOST:PORT")
	}
	if cfg.RESTConfig == nil && (g.kube == nil || g.gateways == nil) {
		return nil, errors.New("no API server to watch: Config needs RESTConfig, or both Kube and GatewayAPI")
	}
	var err error
	if g.kube == nil {
		if g.kube, err = kubernetes.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("making the Kubernetes client: %w", err)
		}
	}
	if g.gateways == nil {
		if g.gateways, err = versioned.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("making the Gateway API client: %w", err)
		}
	}

	for gw, addr := range cfg.Listen {
		s, err := g.newServer(gw, addr)
		if err != nil {
			g.closeListeners()
			return nil, err
		}
		g.servers[gw] = s
	}
	if g.admin, err = net.Listen("tcp", cfg.AdminAddress); err != nil {
		g.closeListeners()
		return nil, fmt.Errorf("listening on the admin address %s: %w", cfg.AdminAddress, err)
	}
	return g, nil
}

func (g *Gateway) newServer(gw types.NamespacedName, addr string) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for Gateway %s on %s: %w", gw, addr, err)
	}
	s := &server{gateway: gw, listener: ln, address: netip.MustParseAddrPort(ln.Addr().String())}
	handler := proxy.New(proxy.Options{Table: s.table.Load, Logger: g.log.With("gateway", gw.String()), Meters: g.cfg.Meters, Tracer: g.cfg.Tracer})
	s.proxy = handler
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	// h2c with prior knowledge, as gRPC clients speak it without TLS.
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler:           g.guard(s, handler),
		Protocols:         &protocols,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	// The proxy declines requests while the Gateway has no table: guard
	// answers them on net/http.
	s.fast = http1.NewServer(handler, http1.Options{
		ReadHeaderTimeout: s.http.ReadHeaderTimeout,
		IdleTimeout:       s.http.IdleTimeout,
		Logger:            g.log.With("gateway", gw.String()),
	})
	return s, nil
}

// guard answers for a Gateway that has no table: it does not exist, or
// is not of our class. (Run serves nothing before the first tables are
// built, so no table never means "not loaded yet".)
func (g *Gateway) guard(s *server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.table.Load() != nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, "404 Not Found: Gateway %s does not exist, or its GatewayClass is not one of controller %s\n",
			s.gateway, controllerName)
	})
}

// Addr returns the address the gateway serves Gateway gw on, or nil.
func (g *Gateway) Addr(gw types.NamespacedName) net.Addr {
	if s, ok := g.servers[gw]; ok {
		return s.listener.Addr()
	}
	return nil
}

// AdminAddr returns the address of the health endpoints.
func (g *Gateway) AdminAddr() net.Addr { return g.admin.Addr() }

func (g *Gateway) closeListeners() {
	for _, s := range g.servers {
		_ = s.listener.Close()
	}
	if g.admin != nil {
		_ = g.admin.Close()
	}
}

// Run loads the routes, serves them until ctx is done, then drains
// (process.Servers.Run): it reports not ready for the drain window while
// still serving, stops watching, then stops accepting connections and
// waits, up to the shutdown timeout, for requests in flight.
//
// The listeners, bound by New, are served only once the first tables are
// built from synced caches: until then a connection waits in the
// listener's backlog and its request is answered by its route once they
// are, rather than with a 503 or 404 that only says the gateway has just
// started, as a restarted gateway under load would otherwise answer.
func (g *Gateway) Run(ctx context.Context) error {
	syncCtx, stopSync := context.WithCancel(context.Background())
	defer stopSync()
	// failed ends the run: the watch stopped on its own, or a fast path
	// stopped serving.
	failed := make(chan error, 1+len(g.servers))
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		err := g.watch(syncCtx)
		if syncCtx.Err() == nil {
			// It stopped on its own: the gateway stops too.
			if err != nil {
				err = fmt.Errorf("watching the API server: %w", err)
			}
			failed <- err
		} else if err != nil {
			g.log.Warn("watching stopped with an error", "error", err)
		}
	}()
	g.log.Info("loading the routes before serving")

	served := g.served()
	servers := make([]process.Server, 0, len(served))
	for _, gw := range served {
		s := g.servers[gw]
		servers = append(servers, process.Server{HTTP: s.http, Listener: declinedListener{s.fast.Declined(), s.listener}, LogAttrs: []any{"gateway", gw.String()}})
	}
	// The fast path serves the listeners from the moment net/http does
	// (process.Servers serves once the routes are loaded), and stops
	// before it: the connections it declines while it drains still find
	// net/http serving.
	stopFast := make(chan struct{})
	var fastDone sync.WaitGroup
	for _, gw := range served {
		s := g.servers[gw]
		fastDone.Go(func() {
			select {
			case <-g.health.Loaded():
			case <-stopFast:
				return
			}
			if err := s.fast.Serve(s.listener); err != nil && !errors.Is(err, http1.ErrServerClosed) {
				failed <- fmt.Errorf("serving Gateway %s: %w", gw, err)
			}
		})
	}
	shutdownFast := func(ctx context.Context) {
		close(stopFast)
		for _, gw := range served {
			s := g.servers[gw]
			if err := s.fast.Shutdown(ctx); err != nil {
				g.log.Warn("requests still in flight on the fast path at the end of the shutdown timeout", "gateway", gw.String(), "error", err)
			}
			_ = s.listener.Close()
			s.proxy.CloseIdleConnections()
		}
		fastDone.Wait()
	}
	err := process.Servers{
		Admin:           g.admin,
		Health:          g.health,
		Serve:           servers,
		ServingMessage:  "serving Gateway",
		DrainWindow:     g.cfg.DrainWindow,
		ShutdownTimeout: g.cfg.ShutdownTimeout,
		Failed:          failed,
		Drained: func(ctx context.Context) {
			shutdownFast(ctx)
			// It stops without error once told to; waiting lets a status
			// write in progress finish before the process goes.
			stopSync()
			<-watchDone
		},
		Log: g.log,
	}.Run(ctx)
	g.log.Info("stopped")
	return err
}

// declinedListener is the listener net/http serves behind the fast
// path, with the address of the one they share, for the log line that
// says where the Gateway is served.
type declinedListener struct {
	net.Listener
	shared net.Listener
}

func (l declinedListener) Addr() net.Addr { return l.shared.Addr() }

// served returns the Gateways this process serves, sorted.
func (g *Gateway) served() []types.NamespacedName {
	out := slices.Collect(maps.Keys(g.servers))
	slices.SortFunc(out, func(a, b types.NamespacedName) int { return strings.Compare(a.String(), b.String()) })
	return out
}
