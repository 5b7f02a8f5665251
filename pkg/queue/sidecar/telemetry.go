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
	// arrival to its response's end, and the parent the app gets;
	// spanQueueWait, its child, is the wait for a slot of
	// containerConcurrency, made only for a request that may wait (the
	// net/http path's: the fast path takes only requests with a free
	// slot). The rest of the span is the app's time: one span where a
	// client span for the app beside it would double the cost of tracing
	// a request for what the difference of two timestamps already says.
	spanServer    = "queue-proxy"
	spanQueueWait = "queue.wait"

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

// resourceAttributes describe the process on every span and series:
// the pod, and the Revision, Configuration and Service it serves. A
// sidecar serves one pod, so they are the resource's (as the semantic
// conventions have k8s.pod.name), sent once per export, not copied into
// every span: a trace viewer shows them on each of the sidecar's spans.
func resourceAttributes(cfg queue.Config) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	for _, a := range []attribute.KeyValue{
		attrPod.String(cfg.Pod),
		attrNamespace.String(cfg.Namespace),
		attrService.String(cfg.Service),
		attrConfiguration.String(cfg.Configuration),
		attrRevision.String(cfg.Revision),
	} {
		if a.Value.AsString() != "" {
			attrs = append(attrs, a)
		}
	}
	return attrs
}

// endServerSpan notes the response's status on the request's span and
// ends it; a 5xx is an error of the revision's.
func endServerSpan(span trace.Span, status int) {
	if status != 0 {
		providers.SetAttribute(span, attrStatus.Int(status))
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
				providers.MethodAttribute(r.Method))
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
		// The request's span stays the current one: the app's parent is
		// it, not the wait.
		_, wait := s.tracer.Start(r.Context(), spanQueueWait)
		defer wait.End() // turned away, or timed out in the queue
		limited.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), queueWaitKey{}, wait)))
	})
}

// traceApp is the stage before the proxy: while tracing is on, the
// queue wait ends here and the app gets the request's span as its parent
// in traceparent (in a trace the sampler left out too, as on the fast
// path: the span is then not recorded). With tracing off the caller's
// traceparent passes as it came.
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
		proxy.ServeHTTP(w, s.tracer.Forward(ctx, r))
	})
}

// startFastSpan starts the span of a fast-path request while tracing is
// on. It is reused once it ended (Tracer.StartServerAt).
func (s *Sidecar) startFastSpan(x *http1.Exchange, start time.Time) trace.Span {
	return s.tracer.StartServerAt(http1.TraceCarrier{Request: &x.Request}, spanServer,
		start, providers.MethodAttributes(x.Request.MethodString()))
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
	return providers.NewWithOptions(ctx, Component, obs, providers.Options{
		Logger:           log,
		Attributes:       resourceAttributes(cfg),
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
