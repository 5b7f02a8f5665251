package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/telemetry/obsconfig"
	"flywheel.dev/pkg/telemetry/otlp"
	"flywheel.dev/pkg/telemetry/otlpmetrics"
	"flywheel.dev/pkg/telemetry/otlpspans"
	"flywheel.dev/pkg/telemetry/promtext"
)

// defaultExportInterval is how often metrics are pushed over OTLP when
// metrics-export-interval does not say: OpenTelemetry's default.
const defaultExportInterval = time.Minute

// Telemetry is a component's meter and tracer providers. Instruments and
// tracers taken from them stay valid across Apply: what changes is where
// their data goes (a Prometheus endpoint, an OTLP receiver, nowhere) and
// which traces are sampled.
type Telemetry struct {
	meters *sdkmetric.MeterProvider
	// tracers is this repository's own tracer provider rather than the
	// SDK's, for what a traced request costs (package otlpspans).
	tracers *otlpspans.Provider
	log     *slog.Logger

	// scrape serves the Prometheus reader's figures.
	scrape http.Handler
	// push forwards the periodic reader's exports to the OTLP exporter
	// in force, if any.
	push *switchingMetricExporter
	// scrapedElsewhere: the component serves scrape on a port of its
	// own, and this package never starts a server.
	scrapedElsewhere bool

	mu  sync.Mutex
	cfg Config
	// server serves scrape while the protocol is prometheus.
	server *http.Server
}

// Options are a component's choices that config-observability does not
// make.
type Options struct {
	// Logger hears of configurations that fail; nil discards.
	Logger *slog.Logger
	// Attributes describe the process (k8s.pod.name and the like) on
	// every series and span.
	Attributes []attribute.KeyValue
	// ScrapedElsewhere says that the component serves MetricsHandler on
	// a port of its own, as the queue-proxy does beside the autoscaler's
	// stats: with metrics-protocol prometheus no server is started here,
	// and metrics-endpoint, which names the system components' address,
	// is not read.
	ScrapedElsewhere bool
}

// New returns a component's Telemetry, configured with cfg. attrs
// describe the process (k8s.pod.name and the like) on every series and
// span; component becomes service.name.
func New(ctx context.Context, component string, cfg Config, log *slog.Logger, attrs ...attribute.KeyValue) (*Telemetry, error) {
	return NewWithOptions(ctx, component, cfg, Options{Logger: log, Attributes: attrs})
}

// NewWithOptions is New with the choices of Options.
func NewWithOptions(ctx context.Context, component string, cfg Config, opts Options) (*Telemetry, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := resource.NewSchemaless(append([]attribute.KeyValue{semconv.ServiceName(component)}, opts.Attributes...)...)
	// Prometheus' text format and OTLP are written by this repository's
	// own exporters (packages promtext, otlpmetrics), which serve and
	// send what the SDK's do without linking the Prometheus client,
	// protobuf's generated messages and grpc-go into every component.
	scrape := promtext.New()
	interval := cfg.Metrics.ExportInterval
	if interval <= 0 {
		interval = defaultExportInterval
	}
	t := &Telemetry{
		log:              log,
		scrapedElsewhere: opts.ScrapedElsewhere,
		scrape:           scrape,
		push:             &switchingMetricExporter{},
		tracers:          otlpspans.NewProvider(res.Attributes()...),
	}
	// Both readers always exist, so that an instrument made now reports
	// through whichever the configuration picks later. A Prometheus
	// reader costs nothing until scraped; the periodic one collects
	// every interval and drops the result when nothing takes it.
	t.meters = sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(scrape.Reader()),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(t.push, sdkmetric.WithInterval(interval))),
	)
	if err := t.Apply(ctx, cfg); err != nil {
		_ = t.Shutdown(context.Background())
		return nil, err
	}
	return t, nil
}

// Logger is where the component's observability setup logs.
func (t *Telemetry) Logger() *slog.Logger { return t.log }

// MeterProvider is where the component's instruments come from.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meters }

// TracerProvider is where the component's tracers come from.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tracers }

// Config is the configuration in force.
func (t *Telemetry) Config() Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg
}

// TracingOn says whether spans are recorded now. Components that only
// pass a trace context through when tracing is off check it first, so
// that a request's traceparent reaches the app as it came.
func (t *Telemetry) TracingOn() bool { return t.tracers.On() }

// MetricsHandler serves the figures in Prometheus' text format, whatever
// the protocol, for components that also serve them on a port of their
// own.
func (t *Telemetry) MetricsHandler() http.Handler { return t.scrape }

// Apply puts cfg in force: the Prometheus server started or stopped (or
// moved), the OTLP exporters made anew, the sampler set. On error the
// previous configuration stays in force for what failed.
func (t *Telemetry) Apply(ctx context.Context, cfg Config) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error

	switch {
	case t.scrapedElsewhere:
	case cfg.Metrics.Protocol == obsconfig.ProtocolPrometheus:
		if t.server == nil || t.cfg.PrometheusAddress() != cfg.PrometheusAddress() || t.cfg.Metrics.Protocol != obsconfig.ProtocolPrometheus {
			if err := t.serve(cfg.PrometheusAddress()); err != nil {
				errs = append(errs, err)
			}
		}
	default:
		t.stopServing()
	}
	exporter, err := metricExporter(cfg.Metrics)
	if err != nil {
		errs = append(errs, err)
	} else {
		t.push.set(exporter)
	}

	spanExporter, err := otlpspans.NewExporter(cfg.Tracing, t.tracers.Resource(), os.Stderr, t.log)
	if err != nil {
		errs = append(errs, err)
	} else {
		if old := t.tracers.SetExporter(spanExporter); old != nil {
			go retire(old.Shutdown)
		}
		// A sampled parent is followed, so that a trace the caller
		// records is whole; an unsampled one too, so that the rate is
		// decided once per trace, where it starts.
		t.tracers.SetSampling(cfg.TracingOn(), cfg.Tracing.SamplingRate)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	t.cfg = cfg
	return nil
}

// serve (re)starts the Prometheus server on addr. Called with mu held.
func (t *Telemetry) serve(addr string) error {
	t.stopServing()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serving metrics for Prometheus on %s (%s): %w", addr, KeyMetricsEndpoint, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", t.scrape)
	srv := &http.Server{Addr: l.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.log.Error("serving metrics", "address", addr, "error", err)
		}
	}()
	t.server = srv
	return nil
}

// PrometheusListener is the address the Prometheus server listens on,
// empty when it does not run (tests ask for port 0).
func (t *Telemetry) PrometheusListener() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.server == nil {
		return ""
	}
	return t.server.Addr
}

func (t *Telemetry) stopServing() {
	if t.server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.server.Shutdown(ctx)
	t.server = nil
}

// Shutdown flushes what is pending to the exporters in force and stops
// the Prometheus server.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.stopServing()
	t.mu.Unlock()
	var spansErr error
	if spans := t.tracers.SetExporter(nil); spans != nil {
		spansErr = spans.Shutdown(ctx)
	}
	return errors.Join(spansErr, t.meters.Shutdown(ctx))
}

// metricExporter is the OTLP exporter cfg asks for; nil for prometheus
// and none, which push nothing.
func metricExporter(cfg obsconfig.Metrics) (sdkmetric.Exporter, error) {
	if cfg.Protocol != obsconfig.ProtocolGRPC && cfg.Protocol != obsconfig.ProtocolHTTPProtobuf {
		return nil, nil
	}
	u, err := otlp.ParseEndpoint(cfg.Endpoint, "metrics")
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", KeyMetricsEndpoint, cfg.Endpoint, err)
	}
	if cfg.Protocol == obsconfig.ProtocolGRPC {
		return otlpmetrics.New(otlp.NewGRPCSender(u, otlp.MetricExportMethod)), nil
	}
	return otlpmetrics.New(otlp.NewHTTPSender(u)), nil
}
