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
	// loaded is set once the first tables are built; draining once Run's
	// context is done. Either unset makes the gateway not ready.
	loaded, draining atomic.Bool
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
	g := &Gateway{cfg: cfg, log: cfg.Logger, kube: cfg.Kube, gateways: cfg.GatewayAPI, servers: map[types.NamespacedName]*server{}}
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

// guard answers for a Gateway that has no table yet, so that a client
// learns whether to retry (503, still starting) or fix something (404).
func (g *Gateway) guard(s *server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.table.Load() != nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !g.loaded.Load() {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "503 Service Unavailable: the gateway is starting and has not loaded the routes of Gateway %s yet\n", s.gateway)
			return
		}
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

// Run serves until ctx is done, then drains: it reports not ready for
// the drain window while still serving, then stops accepting connections
// and waits, up to the shutdown timeout, for requests in flight.
func (g *Gateway) Run(ctx context.Context) error {
	admin := &http.Server{Handler: g.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, len(g.servers)+1)
	go serve(admin, g.admin, serveErr)
	for _, s := range g.servers {
		g.log.Info("serving Gateway", "gateway", s.gateway.String(), "address", s.listener.Addr().String())
		go serve(s.http, s.listener, serveErr)
	}

	syncCtx, stopSync := context.WithCancel(context.Background())
	syncDone := make(chan error, 1)
	go func() { syncDone <- g.watch(syncCtx) }()

	var err error
	watching := true
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serving: %w", err)
	case err = <-syncDone:
		watching = false
		if err != nil {
			err = fmt.Errorf("watching the API server: %w", err)
		}
	}

	g.draining.Store(true)
	if err == nil && g.cfg.DrainWindow > 0 {
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
	}
	_ = admin.Close()
	g.log.Info("stopped")
	return err
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
		case !g.loaded.Load():
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
