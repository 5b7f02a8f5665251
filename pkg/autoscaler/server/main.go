package server

import (
	"context"
	"errors"
	"flag"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	podinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/signals"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/autoscaler"
	"flywheel.dev/pkg/autoscaler/custommetrics"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	autoscalinglisters "flywheel.dev/pkg/client/listers/autoscaling/v1alpha1"
	"flywheel.dev/pkg/election"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/reconciler/autoscaling/hpa"
	"flywheel.dev/pkg/reconciler/autoscaling/kpa"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// Component names the autoscaler process in its logs and leader election
// leases.
const Component = "autoscaler"

// Defaults of the autoscaler's addresses, as config/core's Service names
// them.
const (
	// DefaultStatsAddress takes the activators' reports (8080 is
	// knative.dev/pkg's health probes).
	DefaultStatsAddress = ":8081"
	// DefaultMetricsAPIAddress serves custom.metrics.k8s.io.
	DefaultMetricsAPIAddress = custommetrics.DefaultAddress
)

// Main runs the autoscaler until the process is signalled. It takes the
// standard knative.dev/pkg flags (--kubeconfig, --server) and its own.
func Main() {
	statsAddress := flag.String("stats-address", DefaultStatsAddress, "address that takes the activators' load reports (POST "+activator.StatsPath+")")
	metricsAPIAddress := flag.String("metrics-api-address", DefaultMetricsAPIAddress, "address of the custom.metrics.k8s.io API (HTTPS); empty serves none")
	certFile := flag.String("tls-cert-file", "", "serving certificate of the custom metrics API; empty makes a self-signed one")
	keyFile := flag.String("tls-private-key-file", "", "its key")
	cfg := injection.ParseAndGetRESTConfigOrDie()
	// Its reconcilers elect leaders as the controller's do: a restart in
	// its pod leads again at once.
	ctx, err := election.ForProcess(signals.NewContext(), cfg, Component)
	if err != nil {
		stdlog.Fatal("Setting up leader election: ", err)
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	collector := metrics.NewCollector(metrics.Retention)
	client := metrics.NewScrapeClient()
	scrape := func(ctx context.Context, podIP string, since time.Time) (stats.Report, error) {
		return metrics.Scrape(ctx, client, podIP, since)
	}
	shared := &loops{collector: collector, scrape: scrape, log: log}
	kpaCtor := func(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
		revisions := shared.get(ctx)
		impl := kpa.NewController(ctx, cmw, revisions)
		shared.enqueueTo(impl.EnqueueKey)

		// The servers need the loops, which need the injected informers:
		// this constructor is the first place that has both.
		logger := logging.FromContext(ctx)
		go func() {
			if err := serveStats(ctx, *statsAddress, metrics.ActivatorHandler(collector, clock.RealClock{}, revisions.Poke)); err != nil {
				logger.Fatalw("Serving the activators' reports", "error", err)
			}
		}()
		if *metricsAPIAddress != "" {
			p := custommetrics.NewProvider(collector, podinformer.Get(ctx).Lister(), stableWindow(painformer.Get(ctx).Lister()), clock.RealClock{})
			s, err := custommetrics.NewServer(custommetrics.ServerOptions{Address: *metricsAPIAddress, CertFile: *certFile, KeyFile: *keyFile}, p)
			if err != nil {
				logger.Fatalw("Setting up the custom metrics API", "error", err)
			}
			go func() {
				if err := s.Run(ctx); err != nil {
					logger.Fatalw("Serving the custom metrics API", "error", err)
				}
			}()
		}
		return impl
	}
	hpaCtor := func(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
		impl := hpa.NewController(ctx, cmw, shared.get(ctx))
		shared.enqueueTo(impl.EnqueueKey)
		return impl
	}
	sharedmain.MainWithConfig(ctx, Component, cfg, kpaCtor, hpaCtor)
}

// loops are the per-Revision loops both classes' controllers share: one
// loop per Revision, whatever its class, each decision going to both
// controllers' queues (each reconciles only its own class).
type loops struct {
	collector *metrics.Collector
	scrape    metrics.ScrapeFunc
	log       *slog.Logger

	once      sync.Once
	revisions *autoscaler.Revisions
	mu        sync.Mutex
	enqueue   []func(types.NamespacedName)
}

// get makes the loops on first use, with the pod informer of ctx.
func (l *loops) get(ctx context.Context) *autoscaler.Revisions {
	l.once.Do(func() {
		pods := podinformer.Get(ctx).Lister()
		readyPods := func(rev types.NamespacedName) []string {
			ips, err := podscale.ReadyPodIPs(pods, rev)
			if err != nil {
				l.log.Warn("listing a Revision's pods", "revision", rev.String(), "error", err)
			}
			return ips
		}
		l.revisions = autoscaler.NewRevisions(clock.RealClock{}, l.collector, l.scrape, readyPods, l.decided, l.log)
		// sharedmain has set the global provider from
		// config-observability before it builds the controllers.
		actualPods := func(rev types.NamespacedName) int {
			n, _ := podscale.ActualPods(pods, rev)
			return n
		}
		if err := l.revisions.RegisterInstruments(otel.GetMeterProvider(), actualPods); err != nil {
			l.log.Warn("the autoscaler's per-Revision metrics are not reported", "error", err)
		}
	})
	return l.revisions
}

func (l *loops) enqueueTo(f func(types.NamespacedName)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enqueue = append(l.enqueue, f)
}

func (l *loops) decided(rev types.NamespacedName, _ scaling.Decision) {
	l.mu.Lock()
	enqueue := slices.Clone(l.enqueue)
	l.mu.Unlock()
	for _, f := range enqueue {
		f(rev)
	}
}

// serveStats serves h at activator.StatsPath on addr until ctx ends.
func serveStats(ctx context.Context, addr string, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle(activator.StatsPath, h)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(shutdownCtx)
	}()
	if err := s.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// stableWindow returns each Revision's stable window, from its
// PodAutoscaler's annotations over config-autoscaler's defaults: the
// custom metrics average over the window the built-in class would.
func stableWindow(pas autoscalinglisters.PodAutoscalerLister) custommetrics.WindowFunc {
	defaults := config.DefaultAutoscaler()
	return func(rev types.NamespacedName) time.Duration {
		pa, err := pas.PodAutoscalers(rev.Namespace).Get(rev.Name)
		if err != nil {
			return defaults.StableWindow
		}
		a, ferr := autoscaling.ParseAnnotations(pa.Annotations)
		if ferr != nil {
			return defaults.StableWindow
		}
		return a.WindowOr(defaults)
	}
}
