package dispatcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/client/informers/externalversions"
	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/clients"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/jetstream"
	"flywheel.dev/pkg/telemetry"
)

// Component is the dispatcher's service.name on its series and spans.
const Component = "broker-dispatcher"

// DefaultProbeAddress serves the dispatcher's probes.
const DefaultProbeAddress = ":8080"

// Main is the broker-dispatcher binary: it parses args, delivers every
// ready Trigger's events until SIGTERM or SIGINT, and returns the exit
// code. NATS's address and credentials come from the eventing.NATS*Env
// variables.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("broker-dispatcher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; empty uses the in-cluster configuration")
	probes := fs.String("probe-address", DefaultProbeAddress, "address of "+eventing.HealthPath+" and "+eventing.ReadyPath)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	conns, err := clients.Open(*kubeconfig, "flywheel-broker-dispatcher")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer conns.Close()
	client, nc, js, natsURL := conns.Client, conns.NATS, conns.JetStream, conns.NATSURL

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Metrics on port 9090 and traces as config-observability says.
	tel, err := telemetry.Start(ctx, Component, conns.Rest, log)
	if err != nil {
		log.Error("setting up metrics and traces", "error", err)
		return 1
	}
	defer shutdownTelemetry(tel, log)
	factory := externalversions.NewSharedInformerFactory(client, 10*time.Hour)
	triggers := factory.Eventing().V1().Triggers()
	brokers := factory.Eventing().V1().Brokers()
	deliverer := delivery.New(nil, nil).WithTracer(tel.Tracer("flywheel.dev/pkg/eventing/dispatcher"))
	d := New(js, deliverer, triggers.Lister(), brokers.Lister(), log).WithMeters(tel.MeterProvider())
	defer d.Stop()

	// One worker applies changes in order; a failed sync (the listers
	// erring) is retried with backoff.
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	defer queue.ShutDown()
	enqueueTrigger := func(obj any) {
		if t, ok := tombstoned(obj).(*eventingv1.Trigger); ok {
			queue.Add(types.NamespacedName{Namespace: t.Namespace, Name: t.Name})
		}
	}
	if _, err := triggers.Informer().AddEventHandler(handleAll(enqueueTrigger)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if _, err := brokers.Informer().AddEventHandler(handleAll(func(obj any) {
		if b, ok := tombstoned(obj).(*eventingv1.Broker); ok {
			for _, key := range TriggersOf(triggers.Lister(), types.NamespacedName{Namespace: b.Namespace, Name: b.Name}) {
				queue.Add(key)
			}
		}
	})); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	go serveProbes(ctx, *probes, func() error {
		switch {
		case !triggers.Informer().HasSynced() || !brokers.Informer().HasSynced():
			return errors.New("loading the Triggers and Brokers")
		case !nc.IsConnected():
			return fmt.Errorf("not connected to NATS (%s)", nc.Status())
		}
		return nil
	}, log)
	log.Info("dispatching", "nats", natsURL)
	go TrimStreams(ctx, js, brokers.Lister(), jetstream.TrimPeriod, log)

	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		key, shutdown := queue.Get()
		if shutdown {
			return 0
		}
		if err := d.Sync(ctx, key); err != nil {
			log.Warn("syncing a Trigger", "trigger", key.String(), "error", err)
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

func handleAll(f func(any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    f,
		UpdateFunc: func(_, obj any) { f(obj) },
		DeleteFunc: f,
	}
}

// tombstoned returns the object a deletion tombstone holds, or obj.
func tombstoned(obj any) any {
	if ts, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return ts.Obj
	}
	return obj
}

// serveProbes answers HealthPath while the process runs and ReadyPath
// while ready returns nil.
func serveProbes(ctx context.Context, address string, ready func() error, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc(eventing.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc(eventing.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Addr: address, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serving probes", "error", err)
	}
}

// shutdownTelemetry sends what is still buffered (spans, the last
// metrics) before the process ends.
func shutdownTelemetry(tel *telemetry.Telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("flushing metrics and spans", "error", err)
	}
}
