package ingress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/telemetry"
)

// Probe paths. Each has a single segment, and a Broker's path has two.
const (
	// HealthPath answers 200 to GET while the process serves: a liveness
	// probe, which an unreachable JetStream must not fail.
	HealthPath = eventing.HealthPath
	// ReadyPath answers 200 to GET while Options.Ready returns nil, and
	// 503 with its error otherwise: a readiness probe.
	ReadyPath = eventing.ReadyPath
)

// Defaults of Options.
const (
	// DefaultMaxEventBytes bounds a request's body, the whole event in
	// structured mode and its data in binary mode. It must not exceed
	// what the JetStream stream accepts as one message (the NATS
	// server's max_payload, 1 MiB unless configured, less the headers
	// the Publisher adds), or events under it fail with 503 for ever.
	DefaultMaxEventBytes int64 = 4 << 20
	// DefaultRetryAfter is the Retry-After of a 503.
	DefaultRetryAfter = time.Second
)

// allowed is the Allow header of a Broker's path: the methods it serves.
const allowed = "POST, OPTIONS"

// Publisher stores events in a Broker. The ingress answers 202 exactly
// when Publish returns nil, so Publish returns nil only once the event is
// stored, and returns an error (ctx.Err() at the latest) when ctx ends
// before that. The ingress does not touch ev once Publish returns: the
// Publisher may keep it.
type Publisher interface {
	Publish(ctx context.Context, broker types.NamespacedName, ev *event.Event) error
}

// Brokers says which Brokers exist, as an informer's lister does.
type Brokers interface {
	Exists(broker types.NamespacedName) bool
}

// BrokersFunc is a Brokers made of a function.
type BrokersFunc func(broker types.NamespacedName) bool

// Exists implements Brokers.
func (f BrokersFunc) Exists(broker types.NamespacedName) bool { return f(broker) }

// Options tunes the handler. The zero value is usable.
type Options struct {
	// MaxEventBytes bounds a request's body; past it the answer is 413.
	// Zero means DefaultMaxEventBytes.
	MaxEventBytes int64
	// RetryAfter is sent, in whole seconds rounded up, with every 503.
	// Zero means DefaultRetryAfter.
	RetryAfter time.Duration
	// Ready, when set, decides ReadyPath's answer: typically whether the
	// Brokers' informer has synced, without which every Broker is
	// unknown, and whether JetStream is reachable.
	Ready func() error
	// Loaded, when set, reports whether brokers knows every Broker yet.
	// Until it does, a Broker it does not know gets 503 with Retry-After
	// rather than 404: a restarted ingress still loading must not tell a
	// producer to give up on a Broker that exists.
	Loaded func() bool
	// Logger hears of events that could not be stored (Warn) and of
	// rejected requests (Debug). Nil discards.
	Logger *slog.Logger
	// Meters makes the count of events by Broker and answer; nil counts
	// nothing.
	Meters metric.MeterProvider
	// Tracer makes a span of each event posted, while tracing is on, and
	// stores the event with that span as its trace context; nil makes
	// none, and the event keeps the trace context it came with.
	Tracer *telemetry.Tracer
}

// Handler serves the Broker ingress. In order:
//  1. the probe paths, first so that a kubelet's GETs never count as
//     requests to a Broker;
//  2. the path must be /<namespace>/<broker-name> (404);
//  3. the method must be POST or OPTIONS (405, with Allow);
//  4. the Broker must exist (404; 503 while the Brokers are still
//     loading), before any of the body is read, so an unknown Broker
//     costs no reading and an OPTIONS handshake grants nothing for it;
//  5. OPTIONS answers the webhook handshake;
//  6. the body is read within MaxEventBytes (413), decoded once into an
//     event (400, 415), and published; 202 only once Publish returned nil
//     (503 otherwise).
type Handler struct {
	brokers    Brokers
	pub        Publisher
	maxBytes   int64
	retryAfter string
	ready      func() error
	loaded     func() bool
	log        *slog.Logger
	metrics    *instruments
	tracer     *telemetry.Tracer
}

// NewHandler returns the Broker ingress handler, which publishes the
// events posted to POST /<namespace>/<broker-name> to that Broker through
// pub, for the Brokers that brokers says exist. It serves net/http and
// the HTTP/1.1 fast path of package http1 (ServeHTTP1); NewServer serves
// both.
func NewHandler(brokers Brokers, pub Publisher, opts Options) *Handler {
	h := &Handler{
		brokers:  brokers,
		pub:      pub,
		maxBytes: opts.MaxEventBytes,
		ready:    opts.Ready,
		loaded:   opts.Loaded,
		log:      opts.Logger,
		metrics:  newInstruments(opts.Meters),
		tracer:   opts.Tracer,
	}
	if h.maxBytes <= 0 {
		h.maxBytes = DefaultMaxEventBytes
	}
	retryAfter := opts.RetryAfter
	if retryAfter <= 0 {
		retryAfter = DefaultRetryAfter
	}
	// Retry-After takes whole seconds; rounding down could make it 0.
	h.retryAfter = strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10)
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case HealthPath:
		h.probe(w, r, nil)
		return
	case ReadyPath:
		h.probe(w, r, h.ready)
		return
	}
	broker, ok := eventing.ParseBrokerPath(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf(
			"the Broker ingress takes events at /<namespace>/<broker-name>, and %q is not such a path", r.URL.Path))
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodOptions {
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf(
			"a Broker takes events by POST, not %s", r.Method))
		return
	}
	if !h.brokers.Exists(broker) {
		if h.loaded != nil && !h.loaded() {
			h.unavailable(w, fmt.Sprintf("the ingress is still loading the Brokers; try Broker %s again", broker))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("Broker %s not found", broker))
		return
	}
	if r.Method == http.MethodOptions {
		handshake(w, r)
		return
	}
	h.ingest(w, r, broker)
}

// ingest reads, decodes and publishes the event of a POST to broker.
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, broker types.NamespacedName) {
	arrival := time.Now()
	body, err := readBody(w, r, h.maxBytes)
	a := h.store(r.Context(), r.Header, body, err, broker, arrival)
	if a.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", h.retryAfter)
	}
	if a.status == http.StatusAccepted {
		w.WriteHeader(a.status)
		return
	}
	writeError(w, a.status, a.msg)
}

// outcome is the ingress's answer to a POSTed event, whichever server
// took it: 202 with no body, or a status and the plain-text reason
// (a 503 with Retry-After).
type outcome struct {
	status int
	msg    string
}

// store decodes the body of a POST to broker (or takes readErr, the
// failure to read it), publishes the event, and counts it by the answer
// it returns. With tracing on, a span covers it, and the event is stored
// with that span as its trace context; otherwise with the request's.
func (h *Handler) store(ctx context.Context, header http.Header, body *bytes.Buffer, readErr error, broker types.NamespacedName, arrival time.Time) (a outcome) {
	var span trace.Span
	defer func() {
		h.metrics.count(broker, a.status)
		if span != nil {
			endSpan(span, a.status)
		}
	}()
	err := readErr
	if err == nil {
		var ev *event.Event
		if ev, err = decode(ctx, header, body); err == nil {
			if h.tracer.On() {
				ctx, span = startSpan(ctx, h.tracer, header, broker, ev, arrival)
			} else {
				eventing.TraceContextFromHeader(header, ev)
			}
			return h.publish(ctx, broker, ev)
		}
	}
	if h.tracer.On() {
		_, span = startSpan(ctx, h.tracer, header, broker, nil, arrival)
	}
	re, ok := errors.AsType[*requestError](err)
	if !ok {
		// Only reading can fail otherwise: the client stopped sending.
		re = &requestError{code: http.StatusBadRequest, msg: "reading the request body: " + err.Error()}
	}
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("request refused", "broker", broker.String(), "status", re.code, "reason", re.msg)
	}
	return outcome{status: re.code, msg: re.msg}
}

// publish stores ev: 202 once it is stored, 503 otherwise.
func (h *Handler) publish(ctx context.Context, broker types.NamespacedName, ev *event.Event) outcome {
	// A sender that has given up retries: storing its event now would
	// only add a duplicate.
	if ctx.Err() != nil {
		return outcome{status: http.StatusServiceUnavailable, msg: "the request ended before the event was stored"}
	}
	if err := h.pub.Publish(ctx, broker, ev); err != nil {
		if ctx.Err() != nil {
			return outcome{status: http.StatusServiceUnavailable, msg: "the request ended before the event was stored"}
		}
		h.log.Warn("event not stored", "broker", broker.String(), "id", ev.ID(), "source", ev.Source(), "error", err)
		return outcome{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("event %q from %q not stored in Broker %s: %v", ev.ID(), ev.Source(), broker, err)}
	}
	return outcome{status: http.StatusAccepted}
}

// unavailable answers 503 with Retry-After: the event was not stored, and
// the same request may succeed later.
func (h *Handler) unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", h.retryAfter)
	writeError(w, http.StatusServiceUnavailable, msg)
}

// probe answers a probe path: 200 while check (if any) returns nil.
func (h *Handler) probe(w http.ResponseWriter, r *http.Request, check func() error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes GET, not %s", r.URL.Path, r.Method))
		return
	}
	if check != nil {
		if err := check(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// handshake answers an OPTIONS request to an existing Broker: the methods
// it takes, as the Knative data-plane contract asks of a recipient that
// answers OPTIONS, and, to a sender asking by WebHook-Request-Origin, the
// CloudEvents webhook abuse-protection grant, given at once for any
// origin and any rate: the Broker's path exists to take events.
// WebHook-Request-Callback is not called: the grant is in this answer.
func handshake(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Allow", allowed)
	if origin := r.Header.Get("WebHook-Request-Origin"); origin != "" {
		h.Set("WebHook-Allowed-Origin", origin)
		h.Set("WebHook-Allowed-Rate", "*")
	}
	w.WriteHeader(http.StatusOK)
}

// writeError answers with a plain-text body that says what went wrong,
// so that a producer reading curl's output can act on it.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}
