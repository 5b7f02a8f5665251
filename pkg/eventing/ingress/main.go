package ingress

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/client/informers/externalversions"
	"flywheel.dev/pkg/eventing/clients"
	"flywheel.dev/pkg/eventing/jetstream"
	"flywheel.dev/pkg/telemetry"
)

// Component is the ingress's service.name on its series and spans.
const Component = "broker-ingress"

// Defaults of the ingress binary's flags.
const (
	DefaultAddress     = ":8080"
	DefaultDrainWindow = 5 * time.Second
)

// Main is the broker-ingress binary: it parses args, serves every Broker
// until SIGTERM or SIGINT, drains, and returns the exit code. NATS's
// address and credentials come from the eventing.NATS*Env variables.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("broker-ingress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; empty uses the in-cluster configuration")
	address := fs.String("address", DefaultAddress, "address to take events on, and of "+HealthPath+" and "+ReadyPath)
	maxBytes := fs.Int64("max-event-bytes", DefaultMaxEventBytes, "largest event body taken; larger ones get 413 (NATS's max_payload must be larger)")
	drain := fs.Duration("drain-window", DefaultDrainWindow, "how long to keep taking events, reporting not ready, after SIGTERM")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	conns, err := clients.Open(*kubeconfig, "flywheel-broker-ingress")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer conns.Close()
	client, js, natsURL := conns.Client, conns.JetStream, conns.NATSURL

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
	brokers := factory.Eventing().V1().Brokers()
	lister := brokers.Lister()
	synced := brokers.Informer().HasSynced
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	var draining atomic.Bool
	handler := NewHandler(BrokersFunc(func(b types.NamespacedName) bool {
		_, err := lister.Brokers(b.Namespace).Get(b.Name)
		return !apierrs.IsNotFound(err)
	}), jetstream.NewPublisher(js), Options{
		MaxEventBytes: *maxBytes,
		Logger:        log,
		Meters:        tel.MeterProvider(),
		Tracer:        tel.Tracer("flywheel.dev/pkg/eventing/ingress"),
		Loaded:        synced,
		Ready: func() error {
			switch {
			case draining.Load():
				return errors.New("shutting down")
			case !synced():
				// Until then every Broker would look unknown.
				return errors.New("loading the Brokers")
			}
			// NATS out of reach keeps the ingress ready: producers get
			// 503 with Retry-After, which says more than a refused
			// connection.
			return nil
		},
	})
	ln, err := net.Listen("tcp", *address)
	if err != nil {
		log.Error("listening", "address", *address, "error", err)
		return 1
	}
	srv := NewServer(handler, log)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("taking events", "address", *address, "nats", natsURL)

	select {
	case err := <-serveErr:
		log.Error("serving", "error", err)
		return 1
	case <-ctx.Done():
	}
	// Readiness fails first, so that the Service stops sending here
	// before the listener closes.
	draining.Store(true)
	time.Sleep(*drain)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutting down", "error", err)
		return 1
	}
	return 0
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
