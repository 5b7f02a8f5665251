package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
	servinginformers "flywheel.dev/pkg/client/informers/externalversions"
	"flywheel.dev/pkg/network/forward"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/process"
	"flywheel.dev/pkg/telemetry"
)

// Defaults of Config: the contract's ports on every interface.
var (
	DefaultAddress      = ":" + strconv.Itoa(activator.Port)
	DefaultAdminAddress = ":" + strconv.Itoa(activator.AdminPort)
)

// Defaults of Config.
const (
	DefaultMaxQueueDepth   = 1000
	DefaultRequestTimeout  = 300 * time.Second
	DefaultDrainWindow     = 10 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultResyncPeriod    = 10 * time.Minute
	DefaultReportInterval  = time.Second
)

// Config configures an activator process.
type Config struct {
	// RESTConfig reaches the API server. It is not needed when both Kube
	// and Serving are given.
	RESTConfig *rest.Config
	// Kube and Serving are the clients to use; nil makes them from
	// RESTConfig. Tests pass fakes.
	Kube    kubernetes.Interface
	Serving versioned.Interface
	// Gateway is the Gateway API client whose HTTPRoutes name the
	// Revision of a request that comes without its headers (routeIndex);
	// nil makes it from RESTConfig, or, without one, serves no such
	// request.
	Gateway gatewayclient.Interface
	// Address serves requests (HTTP/1.1 and h2c); empty means
	// DefaultAddress.
	Address string
	// AdminAddress serves /livez, /readyz and /healthz; empty means
	// DefaultAdminAddress.
	AdminAddress string
	// AutoscalerURL is where reports go (activator.StatsPath on the
	// autoscaler).
	AutoscalerURL string
	// AutoscalerService, when AutoscalerURL is empty, is the autoscaler's
	// Service: reports go to activator.StatsPath on a ready endpoint of
	// its port activator.AutoscalerStatsPort, found through its
	// EndpointSlices, so that neither cluster DNS nor a Service proxy is
	// needed. Both empty sends no reports.
	AutoscalerService types.NamespacedName
	// PodName names this activator in its reports; it is the pod's name
	// on a cluster.
	PodName string
	// MaxQueueDepth bounds the requests that wait for each Revision;
	// zero means DefaultMaxQueueDepth.
	MaxQueueDepth int
	// DefaultRequestTimeout bounds the wait for a pod of a Revision
	// without timeoutSeconds; zero means DefaultRequestTimeout.
	DefaultRequestTimeout time.Duration
	// DrainWindow is how long the activator keeps serving, while
	// reporting not ready, after it is told to stop. Zero means
	// DefaultDrainWindow; negative means none.
	DrainWindow time.Duration
	// ShutdownTimeout bounds the wait for requests still in flight after
	// the drain window; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ResyncPeriod is the informers' resync period; zero means
	// DefaultResyncPeriod.
	ResyncPeriod time.Duration
	// ReportInterval is how often load goes to the autoscaler; zero
	// means DefaultReportInterval.
	ReportInterval time.Duration
	// Dial connects to pods; nil uses a net.Dialer. Tests pass their own.
	Dial forward.DialFunc
	// Clock is the activator's time; nil means the real one.
	Clock clock.WithTicker
	// Logger receives the activator's logs; nil discards them.
	Logger *slog.Logger
	// Meters makes the activator's metrics; nil makes none.
	Meters metric.MeterProvider
	// Tracer makes the activator's spans; nil makes none, and the
	// caller's trace context passes through as it came.
	Tracer *telemetry.Tracer
	// NetHTTPOnly serves every request with net/http, none on the
	// HTTP/1.1 fast path: to compare the two, and a way back should the
	// fast path misbehave.
	NetHTTPOnly bool
}

func (c Config) withDefaults() Config {
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if c.AdminAddress == "" {
		c.AdminAddress = DefaultAdminAddress
	}
	if c.MaxQueueDepth <= 0 {
		c.MaxQueueDepth = DefaultMaxQueueDepth
	}
	if c.DefaultRequestTimeout <= 0 {
		c.DefaultRequestTimeout = DefaultRequestTimeout
	}
	if c.DrainWindow == 0 {
		c.DrainWindow = DefaultDrainWindow
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.ResyncPeriod <= 0 {
		c.ResyncPeriod = DefaultResyncPeriod
	}
	if c.ReportInterval <= 0 {
		c.ReportInterval = DefaultReportInterval
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Activator is an activator process: its listeners, bound by New, and
// what it knows of every Revision.
type Activator struct {
	cfg      Config
	log      *slog.Logger
	kube     kubernetes.Interface
	serving  versioned.Interface
	registry *registry
	reporter *reporter
	server   *http.Server
	// fast serves the listener's plain HTTP/1.1 requests and hands the
	// rest (h2c, what it declines) to server; nil with NetHTTPOnly.
	fast     *http1.Server
	handler  *handler
	listener net.Listener
	admin    net.Listener
	// handlers are the registry's informer handlers: once each has had
	// the informer's first list, the registry holds every Revision and
	// its pods.
	handlers []cache.ResourceEventHandlerRegistration
	// health is loaded once the handlers have synced, and draining once
	// Run's context is done. The activator is ready between the two.
	health *process.Health
	slices informers.SharedInformerFactory
	// autoscalerSlices watches the autoscaler's Service's slices, with
	// Config.AutoscalerService.
	autoscalerSlices informers.SharedInformerFactory
	revisions        servinginformers.SharedInformerFactory
	// httpRoutes watches the Routes' HTTPRoutes, with a Gateway API
	// client.
	httpRoutes gatewayinformers.SharedInformerFactory
}

// Run runs an activator with cfg until ctx is done, then drains.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New binds the addresses of cfg, so that a port in use is reported
// before anything runs and tests can ask for port 0.
func New(cfg Config) (*Activator, error) {
	cfg = cfg.withDefaults()
	a := &Activator{cfg: cfg, log: cfg.Logger, kube: cfg.Kube, serving: cfg.Serving, health: process.NewHealth("revisions and endpoints not loaded yet")}
	if cfg.RESTConfig == nil && (a.kube == nil || a.serving == nil) {
		return nil, errors.New("no API server to watch: Config needs RESTConfig, or both Kube and Serving")
	}
	var err error
	if a.kube == nil {
		if a.kube, err = kubernetes.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("making the Kubernetes client: %w", err)
		}
	}
	if a.serving == nil {
		if a.serving, err = versioned.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("making the Knative Serving client: %w", err)
		}
	}

	// Only the slices of Revisions' Services: those are the ones that
	// name pods of Revisions.
	a.slices = informers.NewSharedInformerFactoryWithOptions(a.kube, cfg.ResyncPeriod,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = serving.RevisionLabel.String() }))
	a.revisions = servinginformers.NewSharedInformerFactory(a.serving, cfg.ResyncPeriod)
	sliceInformer := a.slices.Discovery().V1().EndpointSlices()
	// Probes of starting pods: short connections, nothing kept idle for
	// pods that may never be asked again.
	probeClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	a.registry = newRegistry(cfg.Clock, cfg.MaxQueueDepth, cfg.DefaultRequestTimeout, sliceInformer.Lister(), networkProbe(probeClient), a.log)
	sliceHandler, err := sliceInformer.Informer().AddEventHandler(a.registry.sliceHandlers())
	if err != nil {
		return nil, err
	}
	revisionHandler, err := a.revisions.Serving().V1().Revisions().Informer().AddEventHandler(a.registry.revisionHandlers())
	if err != nil {
		return nil, err
	}
	a.handlers = []cache.ResourceEventHandlerRegistration{sliceHandler, revisionHandler}
	routes, err := a.watchHTTPRoutes()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.AutoscalerURL != "":
		url := cfg.AutoscalerURL
		a.reporter = newReporter(func() (string, error) { return url, nil }, cfg.PodName, a.registry, cfg.Clock, cfg.ReportInterval, a.log)
	case cfg.AutoscalerService.Name != "":
		svc := cfg.AutoscalerService
		a.autoscalerSlices = informers.NewSharedInformerFactoryWithOptions(a.kube, cfg.ResyncPeriod,
			informers.WithNamespace(svc.Namespace),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.LabelSelector = discoveryv1.LabelServiceName + "=" + svc.Name
			}))
		lister := a.autoscalerSlices.Discovery().V1().EndpointSlices().Lister()
		a.reporter = newReporter(func() (string, error) { return autoscalerURL(lister, svc) }, cfg.PodName, a.registry, cfg.Clock, cfg.ReportInterval, a.log)
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	// The gateway speaks h2c to Revisions whose pods do.
	protocols.SetUnencryptedHTTP2(true)
	metrics, err := newInstruments(cfg.Meters, a.registry)
	if err != nil {
		return nil, fmt.Errorf("making the activator's instruments: %w", err)
	}
	a.handler = newHandler(a.registry, a.reporter, cfg.Dial, metrics, cfg.Tracer, a.log)
	a.handler.routes = routes
	a.server = &http.Server{
		Handler:           a.handler,
		ConnContext:       markDeclinedConn,
		Protocols:         &protocols,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	if !cfg.NetHTTPOnly {
		a.fast = http1.NewServer(a.handler, http1.Options{
			ReadHeaderTimeout: a.server.ReadHeaderTimeout,
			IdleTimeout:       a.server.IdleTimeout,
			Logger:            a.log,
		})
	}
	if a.listener, err = net.Listen("tcp", cfg.Address); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Address, err)
	}
	if a.admin, err = net.Listen("tcp", cfg.AdminAddress); err != nil {
		_ = a.listener.Close()
		return nil, fmt.Errorf("listening on the admin address %s: %w", cfg.AdminAddress, err)
	}
	return a, nil
}

// watchHTTPRoutes indexes the HTTPRoutes of Routes (routeIndex), when
// there is a Gateway API client to watch them with; nil without one.
func (a *Activator) watchHTTPRoutes() (*routeIndex, error) {
	client := a.cfg.Gateway
	if client == nil {
		if a.cfg.RESTConfig == nil {
			return nil, nil
		}
		var err error
		if client, err = gatewayclient.NewForConfig(a.cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("making the Gateway API client: %w", err)
		}
	}
	// Only the Routes' own, by the label the Route reconciler sets.
	a.httpRoutes = gatewayinformers.NewSharedInformerFactoryWithOptions(client, a.cfg.ResyncPeriod,
		gatewayinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = serving.RouteLabel.String() }))
	routes := newRouteIndex()
	// Not among the handlers readiness waits for: the index serves only
	// requests a gateway sent without their headers, and a cluster whose
	// HTTPRoutes cannot be listed must still have an activator for the
	// rest.
	if _, err := a.httpRoutes.Gateway().V1().HTTPRoutes().Informer().AddEventHandler(routes.handlers()); err != nil {
		return nil, err
	}
	return routes, nil
}

// Addr returns the address the activator serves requests on.
func (a *Activator) Addr() net.Addr { return a.listener.Addr() }

// AdminAddr returns the address of /livez and /readyz.
func (a *Activator) AdminAddr() net.Addr { return a.admin.Addr() }

// Run loads the Revisions, serves until ctx is done, then drains
// (process.Servers.Run): it reports not ready for the drain window while
// still serving, then stops accepting connections and waits, up to the
// shutdown timeout, for requests in flight, those still waiting for a pod
// included.
//
// The listener, bound by New, is served only once the registry holds
// every Revision and its pods as the informers first listed them: until
// then a connection waits in the listener's backlog and its request is
// forwarded once they are, rather than answered 503 or 404 because a
// restarted activator does not know its Revision yet.
func (a *Activator) Run(ctx context.Context) error {
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	a.slices.Start(watchCtx.Done())
	a.revisions.Start(watchCtx.Done())
	if a.httpRoutes != nil {
		a.httpRoutes.Start(watchCtx.Done())
		defer a.httpRoutes.Shutdown()
	}
	if a.autoscalerSlices != nil {
		a.autoscalerSlices.Start(watchCtx.Done())
		defer a.autoscalerSlices.Shutdown()
	}
	synced := make([]cache.DoneChecker, 0, len(a.handlers))
	for _, h := range a.handlers {
		synced = append(synced, h.HasSyncedChecker())
	}
	a.log.Info("loading the revisions before serving")
	go func() {
		if cache.WaitFor(watchCtx, "", synced...) {
			a.health.MarkLoaded()
		}
	}()
	if a.reporter != nil {
		go a.reporter.run(watchCtx)
	}

	go a.retainPodPools(watchCtx)

	served := process.Server{HTTP: a.server, Listener: a.listener}
	failed := make(chan error, 1)
	drained := func(context.Context) {}
	if a.fast != nil {
		served.Listener = declinedListener{a.fast.Declined(), a.listener}
		drained = a.serveFast(failed)
	}
	err := process.Servers{
		Admin:           a.admin,
		Health:          a.health,
		Serve:           []process.Server{served},
		ServingMessage:  "revisions loaded: serving",
		DrainWindow:     a.cfg.DrainWindow,
		ShutdownTimeout: a.cfg.ShutdownTimeout,
		Failed:          failed,
		Drained:         drained,
		Log:             a.log,
	}.Run(ctx)
	// Pods keep coming while requests wait, so the informers run until
	// the last request is done.
	stopWatching()
	a.slices.Shutdown()
	a.revisions.Shutdown()
	a.log.Info("stopped")
	return err
}

// serveFast serves the listener with the fast path from the moment
// net/http serves it (process.Servers serves once the Revisions are
// loaded), reporting on failed an error that stops it. It returns what
// stops it at the drain, before net/http stops: the connections it
// declines while it drains still find net/http serving.
func (a *Activator) serveFast(failed chan<- error) (shutdown func(ctx context.Context)) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-a.health.Loaded():
		case <-stop:
			return
		}
		if err := a.fast.Serve(a.listener); err != nil && !errors.Is(err, http1.ErrServerClosed) {
			failed <- fmt.Errorf("serving %s: %w", a.listener.Addr(), err)
		}
	}()
	return func(ctx context.Context) {
		close(stop)
		if err := a.fast.Shutdown(ctx); err != nil {
			a.log.Warn("requests still in flight on the fast path at the end of the shutdown timeout", "error", err)
		}
		_ = a.listener.Close()
		<-done
		a.handler.fast.CloseIdleConnections()
	}
}

// podPoolSweep is how often the fast path's connection pools of pods
// that left every Revision are closed.
const podPoolSweep = 30 * time.Second

// retainPodPools closes, every podPoolSweep until ctx ends, the fast
// path's pools of pods no Revision knows any more: their idle
// connections would otherwise stay open.
func (a *Activator) retainPodPools(ctx context.Context) {
	t := a.cfg.Clock.NewTicker(podPoolSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		live := map[string]bool{}
		a.registry.each(func(r *revision) { r.throttler.eachKnown(func(addr string) { live[addr] = true }) })
		a.handler.fast.Retain(func(addr string) bool { return live[addr] })
	}
}

// declinedListener is the listener net/http serves behind the fast
// path, with the address of the one they share, for the log line that
// says where the activator serves.
type declinedListener struct {
	net.Listener
	shared net.Listener
}

func (l declinedListener) Addr() net.Addr { return l.shared.Addr() }
