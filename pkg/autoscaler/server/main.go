package server

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

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
	"flywheel.dev/pkg/autoscaler/custommetrics"
	"flywheel.dev/pkg/autoscaler/metrics"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	autoscalinglisters "flywheel.dev/pkg/client/listers/autoscaling/v1alpha1"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/reconciler/autoscaling/kpa"
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

// retention is the history kept per Revision: the longest stable window
// the annotation allows.
const retention = time.Hour

// scrapeTimeout bounds one scrape of a sidecar: a second is a tick.
const scrapeTimeout = time.Second

// Main runs the autoscaler until the process is signalled. It takes the
// standard knative.dev/pkg flags (--kubeconfig, --server) and its own.
func Main() {
	statsAddress := flag.String("stats-address", DefaultStatsAddress, "address that takes the activators' load reports (POST "+activator.StatsPath+")")
	metricsAPIAddress := flag.String("metrics-api-address", DefaultMetricsAPIAddress, "address of the custom.metrics.k8s.io API (HTTPS); empty serves none")
	certFile := flag.String("tls-cert-file", "", "serving certificate of the custom metrics API; empty makes a self-signed one")
	keyFile := flag.String("tls-private-key-file", "", "its key")
	cfg := injection.ParseAndGetRESTConfigOrDie()
	ctx := signals.NewContext()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	collector := metrics.NewCollector(retention)
	// One kept-alive connection per sampled pod: the default transport
	// keeps 100 idle connections in all, so at a thousand Revisions
	// most scrapes would dial anew, which cost a third of the CPU
	// (docs/benchmarks.md, the autoscaler at 1,000 Revisions).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 0
	transport.MaxIdleConnsPerHost = 1
	client := &http.Client{Timeout: scrapeTimeout, Transport: transport}
	scrape := func(ctx context.Context, podIP string, since time.Time) (stats.Report, error) {
		return metrics.Scrape(ctx, client, podIP, since)
	}
	ctor := func(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
		impl, revisions := kpa.NewController(ctx, cmw, collector, scrape, log)
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
	sharedmain.MainWithConfig(ctx, Component, cfg, ctor)
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
