package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/network/httpstatus"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/telemetry/providers"
)

// The sidecar's request instrument, OpenTelemetry's HTTP server
// duration, and the names of its spans and attributes.
const (
	metricRequestDuration = "http.server.request.duration"

	// spanServer is the sidecar's span of a proxied request, from its
	// arrival to its response's end; spanQueueWait and spanApp are its
	// children: the wait for a slot of containerConcurrency, and the
	// app's time, from the request leaving for the app to the response's
	// end.
	spanServer    = "queue-proxy"
	spanQueueWait = "queue.wait"
	spanApp       = "app"

	attrStatus        = attribute.Key("http.response.status_code")
	attrMethod        = attribute.Key("http.request.method")
	attrNamespace     = attribute.Key("k8s.namespace.name")
	attrPod           = attribute.Key("k8s.pod.name")
	attrService       = attribute.Key("flywheel.service")
	attrConfiguration = attribute.Key("flywheel.configuration")
	attrRevision      = attribute.Key("flywheel.revision")
)

// durationBuckets are the semantic conventions' advice for
// http.server.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// maxStatus bounds the status codes with an attribute set of their own;
// anything else (none) is recorded without a status.
const maxStatus = 600

// requestMetrics records http.server.request.duration. Its attribute
// sets are made once per status code and kept: a measurement on the fast
// path then allocates nothing.
type requestMetrics struct {
	duration metric.Float64Histogram
	base     []attribute.KeyValue
	byStatus [maxStatus]atomic.Pointer[[]metric.RecordOption]
}

func newRequestMetrics(mp metric.MeterProvider, cfg queue.Config) *requestMetrics {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	// An error leaves a no-op instrument, which is what the SDK returns
	// with it anyway; the name is a constant that is valid.
	duration, _ := mp.Meter("flywheel.dev/pkg/queue/sidecar").Float64Histogram(metricRequestDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Time from a proxied request's arrival at the queue-proxy to its response's end, queue wait included"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	return &requestMetrics{
		duration: duration,
		base:     []attribute.KeyValue{attrNamespace.String(cfg.Namespace), attrRevision.String(cfg.Revision)},
	}
}

// record counts one request that took since start and was answered with
// status; 0 is a request that got no answer (the client left), or whose
// status is not known.
func (m *requestMetrics) record(start time.Time, status int) {
	m.duration.Record(context.Background(), time.Since(start).Seconds(), m.options(status)...)
}

func (m *requestMetrics) options(status int) []metric.RecordOption {
	if status < 0 || status >= maxStatus {
		status = 0
	}
	if o := m.byStatus[status].Load(); o != nil {
		return *o
	}
	attrs := m.base
	if status != 0 {
		attrs = append(attrs[:len(attrs):len(attrs)], attrStatus.Int(status))
	}
	o := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	m.byStatus[status].Store(&o)
	return o
}

// spanAttributes are the attributes of the sidecar's span of every
// request: who the pod serves.
func spanAttributes(cfg queue.Config) []attribute.KeyValue {
	return []attribute.KeyValue{
		attrNamespace.String(cfg.Namespace),
		attrService.String(cfg.Service),
		attrConfiguration.String(cfg.Configuration),
		attrRevision.String(cfg.Revision),
		attrPod.String(cfg.Pod),
	}
}

// endServerSpan notes the response's status on the request's span and
// ends it; a 5xx is an error of the revision's.
func endServerSpan(span trace.Span, status int) {
	if status != 0 {
		span.SetAttributes(attrStatus.Int(status))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// observe is the net/http chain's stage of metrics and spans, for the
// requests that go to the app (probes are answered before it): the
// request's duration by status, and, while tracing is on, its span,
// which continues the caller's trace.
func (s *Sidecar) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpstatus.Writer{ResponseWriter: w}
		var span trace.Span
		if s.tracer.On() {
			var ctx context.Context
			ctx, span = s.tracer.StartServer(r, spanServer, trace.WithTimestamp(start),
				trace.WithAttributes(s.spanAttrs...), trace.WithAttributes(attrMethod.String(r.Method)))
			r = r.WithContext(ctx)
		}
		// Deferred, so that a response the app broke off (the proxy
		// aborts with a panic) is counted too.
		defer func() {
			status := finalStatus(sw, r)
			s.metrics.record(start, status)
			if span != nil {
				endServerSpan(span, status)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// queueWaitKey holds the queue.wait span in a request's context from
// before the limiter to the app stage, which ends it.
type queueWaitKey struct{}

// traceQueue wraps the limiter stage: while the request's span records,
// a queue.wait span runs from before the wait for a slot to the app
// stage, or to the limiter's answer when it turns the request away.
func (s *Sidecar) traceQueue(limited http.Handler) http.Handler {
	if s.limiter == nil {
		return limited
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).IsRecording() {
			limited.ServeHTTP(w, r)
			return
		}
		// The request's span stays the current one: the app span is the
		// wait's sibling, not its child.
		_, wait := s.tracer.Start(r.Context(), spanQueueWait)
		defer wait.End() // turned away, or timed out in the queue
		limited.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), queueWaitKey{}, wait)))
	})
}

// traceApp is the stage before the proxy: while tracing is on, the
// queue wait ends here and an app span starts, which the app gets as its
// parent in traceparent (in a trace the sampler left out too, as on the
// fast path: the span is then not recorded). With tracing off the
// caller's traceparent passes as it came.
func (s *Sidecar) traceApp(proxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.tracer.On() || !trace.SpanContextFromContext(ctx).IsValid() {
			proxy.ServeHTTP(w, r)
			return
		}
		if wait, ok := ctx.Value(queueWaitKey{}).(trace.Span); ok {
			wait.End()
		}
		ctx, app := s.tracer.Start(ctx, spanApp, trace.WithSpanKind(trace.SpanKindClient))
		defer app.End()
		proxy.ServeHTTP(w, s.tracer.Forward(ctx, r))
	})
}

// startFastSpan starts the span of a fast-path request and its app span,
// while tracing is on; the context it returns is the app span's, for
// ForwardFast to hand the app.
func (s *Sidecar) startFastSpan(x *http1.Exchange, start time.Time) (ctx context.Context, server, app trace.Span) {
	ctx, server = s.tracer.StartServerFrom(context.Background(), http1.TraceCarrier{Request: &x.Request}, spanServer,
		trace.WithTimestamp(start), trace.WithAttributes(s.spanAttrs...),
		trace.WithAttributes(attrMethod.String(x.Request.MethodString())))
	ctx, app = s.tracer.Start(ctx, spanApp, trace.WithSpanKind(trace.SpanKindClient))
	return ctx, server, app
}

// finalStatus is the status the client got: 200 when the handler wrote
// nothing, as net/http answers then, unless the request ended first (the
// client left): then no answer went out, 0.
func finalStatus(w *httpstatus.Writer, r *http.Request) int {
	switch {
	case w.Status != 0:
		return w.Status
	case r.Context().Err() != nil:
		return 0
	}
	return http.StatusOK
}

// Component is the sidecar's service.name on its series and spans.
const Component = "queue-proxy"

// startTelemetry makes the sidecar's meter and tracer providers from the
// config-observability values the Revision reconciler copied into the
// environment. The sidecar serves its figures on its own metrics port,
// beside the autoscaler's stats, whatever metrics-endpoint says.
func startTelemetry(ctx context.Context, cfg queue.Config, log *slog.Logger) (*providers.Telemetry, error) {
	obs, err := ObservabilityConfig(cfg.Observability)
	if err != nil {
		return nil, err
	}
	var attrs []attribute.KeyValue
	for _, a := range []attribute.KeyValue{attrPod.String(cfg.Pod), attrNamespace.String(cfg.Namespace)} {
		if a.Value.AsString() != "" {
			attrs = append(attrs, a)
		}
	}
	return providers.NewWithOptions(ctx, Component, obs, providers.Options{
		Logger:           log,
		Attributes:       attrs,
		ScrapedElsewhere: true,
	})
}

// ObservabilityConfig parses the config-observability values of the
// sidecar's environment with every component's parser; an error names
// the variables and where to fix them.
func ObservabilityConfig(o queue.Observability) (providers.Config, error) {
	data := map[string]string{}
	for key, v := range map[string]string{
		providers.KeyMetricsProtocol:       o.MetricsProtocol,
		providers.KeyMetricsEndpoint:       o.MetricsEndpoint,
		providers.KeyMetricsExportInterval: o.MetricsExportInterval,
		providers.KeyTracingProtocol:       o.TracingProtocol,
		providers.KeyTracingEndpoint:       o.TracingEndpoint,
		providers.KeyTracingSamplingRate:   o.TracingSamplingRate,
	} {
		if v != "" {
			data[key] = v
		}
	}
	cfg, err := providers.ParseConfig(data)
	if err != nil {
		return providers.Config{}, fmt.Errorf("the observability settings the Revision reconciler copied (%s, %s and the like): %w; "+
			"fix %s in the system namespace, and the Revisions' pods are made again with it",
			queue.EnvMetricsProtocol, queue.EnvTracingProtocol, err, providers.ConfigMapName)
	}
	return cfg, nil
}

// shutdownTelemetry sends what is still buffered (spans, the last
// metrics) before the process ends.
func shutdownTelemetry(tel *providers.Telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("flushing metrics and spans", "error", err)
	}
}
