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
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"flywheel.dev/pkg/gateway/proxy"
	"flywheel.dev/pkg/gateway/routing"
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
	// loaded is closed once the first tables, built from synced caches,
	// are in place; draining is set once Run's context is done. The
	// gateway is ready between the two.
	loaded   chan struct{}
	draining atomic.Bool
}

// server serves one Gateway.
type server struct {
	gateway  types.NamespacedName
	listener net.Listener
	address  netip.AddrPort
	table    atomic.Pointer[routing.Table]
	http     *http.Server
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
		servers: map[types.NamespacedName]*server{}, loaded: make(chan struct{}),
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
	handler := proxy.New(proxy.Options{Table: s.table.Load, Logger: g.log.With("gateway", gw.String())})
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

// Run loads the routes, serves them until ctx is done, then drains: it
// reports not ready for the drain window while still serving, then stops
// accepting connections and waits, up to the shutdown timeout, for
// requests in flight.
//
// The listeners, bound by New, are served only once the first tables are
// built from synced caches: until then a connection waits in the
// listener's backlog and its request is answered by its route once they
// are, rather than with a 503 or 404 that only says the gateway has just
// started, as a restarted gateway under load would otherwise answer.
func (g *Gateway) Run(ctx context.Context) error {
	admin := &http.Server{Handler: g.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, len(g.servers)+1)
	go serve(admin, g.admin, serveErr)

	syncCtx, stopSync := context.WithCancel(context.Background())
	syncDone := make(chan error, 1)
	go func() { syncDone <- g.watch(syncCtx) }()
	g.log.Info("loading the routes before serving")

	var err error
	watching, serving := true, false
	for stop := false; !stop; {
		select {
		case <-ctx.Done():
			stop = true
		case err = <-serveErr:
			err, stop = fmt.Errorf("serving: %w", err), true
		case err = <-syncDone:
			watching, stop = false, true
			if err != nil {
				err = fmt.Errorf("watching the API server: %w", err)
			}
		case <-g.loadedUnlessServing(serving):
			serving = true
			for _, s := range g.servers {
				g.log.Info("serving Gateway", "gateway", s.gateway.String(), "address", s.listener.Addr().String())
				go serve(s.http, s.listener, serveErr)
			}
		}
	}

	g.draining.Store(true)
	// Nothing can have been sent here before it served.
	if err == nil && serving && g.cfg.DrainWindow > 0 {
		g.log.Info("draining: not ready, still serving", "window", g.cfg.DrainWindow.String())
		time.Sleep(g.cfg.DrainWindow)
	}
	stopSync()
	if watching {
		// It stops without error once told to; waiting lets a status
		// write in progress finish before the process goes.
		if werr := <-syncDone; werr != nil {
			g.log.Warn("watching stopped with an error", "error", werr)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range g.servers {
		if serr := s.http.Shutdown(shutdownCtx); serr != nil {
			g.log.Warn("requests still in flight at the end of the shutdown timeout", "gateway", s.gateway.String(), "error", serr)
			_ = s.http.Close()
		}
		// Shutdown closes only the listeners it served.
		_ = s.listener.Close()
	}
	_ = admin.Close()
	g.log.Info("stopped")
	return err
}

// loadedUnlessServing returns the channel closed once the routes are
// loaded, or nil, which never receives, once the listeners are served.
func (g *Gateway) loadedUnlessServing(serving bool) <-chan struct{} {
	if serving {
		return nil
	}
	return g.loaded
}

// isLoaded reports whether the first tables are in place.
func (g *Gateway) isLoaded() bool {
	select {
	case <-g.loaded:
		return true
	default:
		return false
	}
}

// serve reports on errc why s stopped serving, unless Shutdown or Close
// stopped it.
func serve(s *http.Server, ln net.Listener, errc chan<- error) {
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		errc <- err
	}
}

// adminHandler serves /livez (the process runs) and /readyz, also as
// /healthz (the routes are loaded and the gateway is not draining).
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	ready := func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case g.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !g.isLoaded():
			http.Error(w, "routes not loaded yet", http.StatusServiceUnavailable)
		default:
			_, _ = fmt.Fprintln(w, "ok")
		}
	}
	mux.HandleFunc("GET /readyz", ready)
	mux.HandleFunc("GET /healthz", ready)
	return mux
}

// served returns the Gateways this process serves, sorted.
func (g *Gateway) served() []types.NamespacedName {
	out := slices.Collect(maps.Keys(g.servers))
	slices.SortFunc(out, func(a, b types.NamespacedName) int { return strings.Compare(a.String(), b.String()) })
	return out
}
