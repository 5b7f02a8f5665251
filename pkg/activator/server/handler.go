package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/network/forward"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/telemetry"
)

// maxAttempts bounds the pods a request is offered to when connecting
// fails, as it does for a pod that went away before its endpoint did.
const maxAttempts = 3

// errNotStarted ends a request whose response had not started within
// the Revision's timeoutSeconds, waiting for a pod included.
var errNotStarted = errors.New("no response started within the Revision's timeoutSeconds")

// The phases of a request under the Revision's timeout: the timer and the
// transport race to move it from phaseWaiting, so that exactly one
// decides between a 504 and the pod's response.
const (
	phaseWaiting  int32 = iota // no response yet; the timeout runs
	phaseStarted               // the pod's response headers came in time
	phaseTimedOut              // the timeout passed first: answer 504
)

// handler serves the requests of every Revision. In order:
//  1. the Revision comes from the headers the route set (400 without
//     them, 404 for a Revision the activator does not know);
//  2. the request counts as the Revision's load from here on, waiting
//     included, since waiting requests are exactly the demand the
//     autoscaler must see;
//  3. it waits for a pod with room, within the bound on waiting requests
//     (503 beyond it); a Revision with no ready pod wakes the autoscaler
//     at once;
//  4. it is forwarded, and offered to another pod when connecting fails.
//
// From 3 on, the Revision's timeoutSeconds bounds the wait for the
// response to start (504 when it passes); a response that has started
// streams on, however long, as Knative's timeoutSeconds says.
type handler struct {
	registry *registry
	reporter *reporter
	reverse  *httputil.ReverseProxy
	metrics  instruments
	tracer   *telemetry.Tracer
	log      *slog.Logger
	// fast holds the fast path's keep-alive pool of each pod
	// (ServeHTTP1).
	fast *http1.UpstreamSet
	// routes names the Revision of a request that came without its
	// headers; nil: no such request is served.
	routes *routeIndex
}

// missingRevision is the answer to a request whose Revision neither its
// headers nor its host name.
var missingRevision = fmt.Sprintf(
	"the activator serves requests routed to a Revision, which carry the headers %s and %s, or whose host an HTTPRoute of a Route names; this request has neither",
	serving.RevisionHeader, serving.NamespaceHeader)

// revisionByHost names the Revision of a request without the headers,
// from its host and tag header (routeIndex).
func (h *handler) revisionByHost(host, tag string) (types.NamespacedName, bool) {
	if h.routes == nil {
		return types.NamespacedName{}, false
	}
	return h.routes.revisionFor(host, tag, h.registry.inPath)
}

// attempt is the state of one request, shared by the handler and the
// transport through the request's context.
type attempt struct {
	rev     *revision
	h2c     bool
	timeout time.Duration
	// ctx is the request's, ended by the Revision's timeout until the
	// response starts.
	ctx context.Context
	// phase is where the request stands against that timeout.
	phase atomic.Int32
	// reporter hears of a request that must wait with no pod ready.
	reporter *reporter
	// pod is the one the request is counted against, nil when none.
	pod *pod
	// err is why the request got no pod, for the error handler.
	err error
	// coldStart is the span of the wait for a Revision that had no
	// ready pod, ended when the pod answers; nil otherwise.
	coldStart trace.Span
	// arrival is when the request came; cold says it found no ready
	// pod, and coldRecorded that its cold start has been measured.
	arrival      time.Time
	cold         bool
	coldRecorded bool
	// waited says the request found no pod with room at once.
	waited bool
	// metrics records the cold start when the pod answers.
	metrics instruments
}

// acquire counts the request against a pod with room, waiting for one
// when none has, and waking the autoscaler when none is ready. The
// wait's timer is made only when there is a wait: most requests find a
// pod at once.
func (at *attempt) acquire() (cold bool, err error) {
	at.pod, at.err = at.rev.throttler.tryAcquire()
	if at.pod != nil || at.err != nil {
		return false, at.err
	}
	at.waited = true
	// Only a request that has to wait asks whether any pod is ready:
	// one that found a pod says that there is.
	if at.rev.throttler.readyPods() == 0 {
		cold = true
		at.reporter.coldRequest(at.rev.key)
	}
	at.pod, at.err = at.rev.throttler.acquire(at.ctx)
	return cold, at.err
}

type attemptKey struct{}

func attemptOf(ctx context.Context) *attempt { return ctx.Value(attemptKey{}).(*attempt) }

func newHandler(g *registry, rep *reporter, dial forward.DialFunc, metrics instruments, tracer *telemetry.Tracer, log *slog.Logger) *handler {
	h := &handler{registry: g, reporter: rep, log: log, metrics: metrics, tracer: tracer}
	// As the net/http path's transport (forward.Transports): as many idle
	// connections per pod, kept as long.
	h.fast = http1.NewUpstreamSet(http1.UpstreamOptions{MaxIdle: 256, Dial: dial})
	h.reverse = &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: newTransport(dial),
		// As the gateway: streams flush at once without it, and a
		// response of known length goes out in one write.
		FlushInterval: 0,
		BufferPool:    forward.NewBufferPool(32 << 10),
		ErrorHandler:  h.proxyError,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := types.NamespacedName{Namespace: r.Header.Get(serving.NamespaceHeader), Name: r.Header.Get(serving.RevisionHeader)}
	if key.Namespace == "" || key.Name == "" {
		var ok bool
		if key, ok = h.revisionByHost(r.Host, r.Header.Get(serving.TagHeader)); !ok {
			writeError(w, http.StatusBadRequest, missingRevision)
			return
		}
	}
	ns, name := key.Namespace, key.Name
	// Run serves nothing before the registry holds every Revision the
	// informers first listed: an unknown one is not one still loading.
	rev := h.registry.get(key)
	if rev == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("revision %s not found", key))
		return
	}
	rev.tracker.In(stats.Proxied)
	defer rev.tracker.Out(stats.Proxied)
	arrival := time.Now()
	spanCtx, span := h.tracer.StartServer(r, "activator", trace.WithTimestamp(arrival),
		trace.WithAttributes(attrNamespace.String(ns), attrRevision.String(name)))
	defer span.End()

	timeout, h2c := rev.settings()
	ctx, cancel := context.WithCancelCause(spanCtx)
	defer cancel(nil)
	at := &attempt{rev: rev, h2c: h2c, timeout: timeout, ctx: ctx, reporter: h.reporter, arrival: arrival, metrics: h.metrics}
	timer := time.AfterFunc(timeout, func() {
		if at.phase.CompareAndSwap(phaseWaiting, phaseTimedOut) {
			cancel(errNotStarted)
		}
	})
	defer timer.Stop()
	r = r.WithContext(ctx)
	_, waitSpan := h.tracer.Start(ctx, "activator.wait")
	cold, err := at.acquire()
	// Counted from the arrival: what came before the wait is a few
	// allocations, not worth a second clock read per request.
	outcome := h.metrics.recordWait(ctx, at, arrival, cold, err)
	waitSpan.SetAttributes(attrOutcome.String(outcome), attrCold.Bool(cold))
	waitSpan.End()
	if err != nil {
		span.SetStatus(codes.Error, outcome)
		h.refuse(w, r, at)
		return
	}
	at.cold = cold
	if cold {
		// From the request's arrival to the pod's first answer: what
		// the caller waited for the Revision to wake.
		_, at.coldStart = h.tracer.Start(ctx, "cold-start", trace.WithTimestamp(arrival))
		defer at.coldStart.End() // when no response came; a second End is ignored
	}
	defer func() {
		// The transport may have moved the request to another pod.
		if at.pod != nil {
			rev.throttler.release(at.pod)
		}
	}()
	if at.waited && declinedConn(r.Context()) && r.Header.Get("Upgrade") == "" {
		// The fast path declined this connection for the wait; closing
		// it after the answer lets the caller's next request, on a new
		// one, take the fast path again, now that pods have room.
		w.Header().Set("Connection", "close")
	}
	h.reverse.ServeHTTP(w, h.tracer.Forward(context.WithValue(r.Context(), attemptKey{}, at), r))
}

type declinedConnKey struct{}

// markDeclinedConn is the server's ConnContext: it notes in each
// connection's context whether the fast path declined it.
func markDeclinedConn(ctx context.Context, c net.Conn) context.Context {
	if http1.WasDeclined(c) {
		return context.WithValue(ctx, declinedConnKey{}, true)
	}
	return ctx
}

func declinedConn(ctx context.Context) bool { return ctx.Value(declinedConnKey{}) != nil }

// refuse answers a request that got no pod.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, at *attempt) {
	switch {
	case at.phase.Load() == phaseTimedOut:
		h.timedOut(w, at)
	case r.Context().Err() != nil:
		// The client left; nobody reads an answer.
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", at.rev.key, at.err))
	}
}

// rewrite makes the outbound request. The activator is a hop inside the
// platform: what the gateway said about the client (X-Forwarded-*)
// passes through unchanged, and the pod is chosen in the transport. The
// pod's sidecar learns that the request came this way, as the activator
// counts it for the autoscaler already.
func rewrite(pr *httputil.ProxyRequest) {
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
	pr.Out.Header.Set(queue.ViaActivatorHeader, queue.ViaActivatorValue)
	pr.Out.URL.Scheme = "http"
	pr.Out.Host = pr.In.Host
}

// proxyError answers a request that could not be forwarded.
func (h *handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	at := attemptOf(r.Context())
	switch {
	case at.phase.Load() == phaseTimedOut:
		h.timedOut(w, at)
	case r.Context().Err() != nil:
		w.WriteHeader(http.StatusBadGateway)
	case at.pod == nil:
		at.err = err
		h.refuse(w, r, at)
	default:
		h.log.Debug("forwarding failed", "revision", at.rev.key.String(), "pod", at.pod.address, "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf("%s: %v", at.rev.key, err))
	}
}

// timedOut answers a request whose response had not started within the
// Revision's timeout.
func (h *handler) timedOut(w http.ResponseWriter, at *attempt) {
	where := "waiting for a pod with room"
	if at.pod != nil {
		where = "waiting for pod " + at.pod.address + " to answer"
	}
	writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("%s: %v (%v), %s", at.rev.key, errNotStarted, at.timeout, where))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// transport sends a request to the pod the handler acquired, and, when
// connecting to it fails, to another.
type transport struct {
	http1, h2c *http.Transport
}

func newTransport(dial forward.DialFunc) *transport {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	http1, h2c := forward.Transports(dial)
	return &transport{http1: http1, h2c: h2c}
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	at := attemptOf(req.Context())
	rt := t.http1
	// An upgrade (WebSocket) is an HTTP/1.1 mechanism, whatever the pods
	// speak otherwise.
	if at.h2c && req.Header.Get("Upgrade") == "" {
		rt = t.h2c
	}
	body := forward.GuardBody(req.Body)
	if body != nil {
		req.Body = body
	}
	for n := 1; ; n++ {
		// req is the reverse proxy's outbound copy, this transport's
		// alone: each attempt points it at its pod in place.
		req.URL.Host = at.pod.address
		resp, err := rt.RoundTrip(req)
		if err == nil && at.cold {
			at.metrics.recordColdStart(at)
			at.coldStart.SetAttributes(attrPod.String(at.pod.address))
			at.coldStart.End()
		}
		if err == nil && !at.phase.CompareAndSwap(phaseWaiting, phaseStarted) && at.phase.Load() == phaseTimedOut {
			// The response came as the timeout passed: the timeout
			// decided first.
			_ = resp.Body.Close()
			return nil, errNotStarted
		}
		if err == nil || n == maxAttempts || !forward.IsDialError(err) || !body.Retryable() || req.Context().Err() != nil {
			return resp, err
		}
		// Nothing was sent: the pod is gone or not listening. Give
		// its place back and wait for another, as a new request would.
		at.rev.throttler.refused(at.pod)
		at.pod = nil
		if _, err := at.acquire(); err != nil {
			return nil, err
		}
	}
}
