package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/network/forward"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/telemetry/providers"
)

// ServeHTTP1 is ServeHTTP on the HTTP/1.1 fast path (package http1), for
// the requests that find a pod with room at once, the activator's
// steady state when it stays in the path of a warm Revision:
//
//  1. the Revision from the route's headers (or its host, routeIndex),
//     with the same 400 and 404;
//  2. a pod taken at once (throttler.tryAcquire, which never overtakes
//     a waiter), counted as the Revision's load, its wait measured (as
//     nothing) and traced as on the net/http path;
//  3. forwarded with the Revision's timeout as the deadline of the
//     response's start, and to another pod when connecting fails (which
//     may wait for one, as the net/http path's retry does).
//
// Declined to net/http: a request that would wait (no pod with room, or
// none ready: a cold start), since only net/http's server notices a
// client that leaves while it waits, and the queue then keeps one
// implementation; a Revision whose pods speak h2c; an unusable
// Revision (deleted), which net/http answers.
func (h *handler) ServeHTTP1(x *http1.Exchange) {
	r := &x.Request
	ns, name := r.Get(serving.NamespaceHeader), r.Get(serving.RevisionHeader)
	key := types.NamespacedName{Namespace: string(ns), Name: string(name)}
	if len(ns) == 0 || len(name) == 0 {
		var ok bool
		if key, ok = h.revisionByHost(string(r.Host), string(r.Get(serving.TagHeader))); !ok {
			respondError(x, http.StatusBadRequest, missingRevision)
			return
		}
	}
	rev := h.registry.get(key)
	if rev == nil {
		respondError(x, http.StatusNotFound, fmt.Sprintf("revision %s not found", key))
		return
	}
	timeout, h2c := rev.settings()
	if h2c {
		x.Decline()
		return
	}
	arrival := time.Now()
	pod, err := rev.throttler.tryAcquire()
	if pod == nil || err != nil {
		x.Decline()
		return
	}
	rev.tracker.In(stats.Proxied)
	defer rev.tracker.Out(stats.Proxied)

	f := fastAttempts.Get().(*fastAttempt)
	defer f.release()
	f.h, f.tries, f.deadline = h, 1, arrival.Add(timeout)
	at := &f.at
	*at = attempt{rev: rev, timeout: timeout, reporter: h.reporter, arrival: arrival, metrics: h.metrics, pod: pod}
	defer func() {
		// Next may have moved the request to another pod, or left it
		// with none.
		if at.pod != nil {
			rev.throttler.release(at.pod)
		}
	}()

	ctx := context.Background()
	if h.tracer.On() {
		span := h.tracer.StartServerAt(http1.TraceCarrier{Request: r}, "activator", arrival,
			[]attribute.KeyValue{attrNamespace.String(key.Namespace), attrRevision.String(key.Name)})
		// The span is reused once it ended: nothing keeps ctx past
		// this function.
		defer span.End()
		ctx = trace.ContextWithSpan(ctx, span)
		_, waitSpan := h.tracer.Start(ctx, "activator.wait")
		waitSpan.SetAttributes(attrOutcome.String("pod"), attrCold.Bool(false))
		waitSpan.End()
		f.parent.Set(span.SpanContext())
	}
	h.metrics.recordWait(ctx, at, arrival, false, nil)

	err = x.ForwardAttempts(f, http1.Limits{ResponseStart: f.deadline})
	switch {
	case err == nil || x.Started():
		if err != nil {
			h.log.Debug("a response broke off", "revision", key.String(), "error", err)
		}
	case errors.Is(err, http1.ErrTimeout):
		h.respondTimedOut(x, at)
	default:
		h.fastFailed(x, f, err)
	}
}

// fastFailed answers a request the fast path could not forward, as
// proxyError does.
func (h *handler) fastFailed(x *http1.Exchange, f *fastAttempt, err error) {
	at := &f.at
	var ue *http1.UpstreamError
	switch {
	case errors.As(err, &ue) && ue.Connecting && at.pod == nil:
		// No other pod came for the retry.
		if !time.Now().Before(f.deadline) {
			h.respondTimedOut(x, at)
		} else {
			respondError(x, http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", at.rev.key, at.err))
		}
	case ue != nil:
		cause := ue.Err
		if ue.Connecting {
			// Named as the net/http path's transport names it.
			cause = &forward.DialError{Address: at.pod.address, Err: ue.Err}
		}
		h.log.Debug("forwarding failed", "revision", at.rev.key.String(), "pod", at.pod.address, "error", cause)
		respondError(x, http.StatusBadGateway, fmt.Sprintf("%s: %v", at.rev.key, cause))
	default:
		// The client left or broke its request; nobody reads an answer.
	}
}

// fastAttempt is one request on the fast path past its first pod: the
// Attempts that move it to another pod when connecting fails, and the
// rewrite of its head. Pooled: a busy activator makes one per request.
type fastAttempt struct {
	h  *handler
	at attempt
	// tries counts the pods offered the request, up to maxAttempts.
	tries int
	// deadline is the Revision's timeout from the arrival: of the
	// response's start, and of any wait for another pod.
	deadline time.Time
	// parent names the activator's span when tracing, nothing
	// otherwise: the pod's parent.
	parent providers.TraceFields
}

var fastAttempts = sync.Pool{New: func() any { return new(fastAttempt) }}

func (f *fastAttempt) release() {
	*f = fastAttempt{}
	fastAttempts.Put(f)
}

// Next offers the request to its pod, then, each time connecting fails,
// gives that pod's place back and waits for another, as a new request
// would, up to maxAttempts pods (the net/http path's transport).
func (f *fastAttempt) Next(failed error) *http1.Upstream {
	at := &f.at
	if failed != nil {
		if f.tries == maxAttempts {
			return nil
		}
		f.tries++
		at.rev.throttler.refused(at.pod)
		at.pod = nil
		ctx, cancel := context.WithDeadlineCause(context.Background(), f.deadline, errNotStarted)
		at.ctx = ctx
		_, err := at.acquire()
		cancel()
		if err != nil {
			return nil
		}
	}
	return f.h.fast.Get(at.pod.address)
}

// Rewrite sets the fields rewrite sets on the net/http path: the
// gateway's X-Forwarded-* pass as they came, a client's Forwarded does
// not (the reverse proxy drops it), K-Via-Activator says the request came
// this way, and the trace context names the activator's span.
func (f *fastAttempt) Rewrite(r *http1.Request, h *http1.HeaderWriter) {
	r.Drop("Forwarded")
	r.Drop(queue.ViaActivatorHeader)
	h.Add(queue.ViaActivatorHeader, queue.ViaActivatorValue)
	f.parent.Rewrite(r, h)
}

// respondTimedOut is timedOut on the fast path.
func (h *handler) respondTimedOut(x *http1.Exchange, at *attempt) {
	where := "waiting for a pod with room"
	if at.pod != nil {
		where = "waiting for pod " + at.pod.address + " to answer"
	}
	respondError(x, http.StatusGatewayTimeout, fmt.Sprintf("%s: %v (%v), %s", at.rev.key, errNotStarted, at.timeout, where))
}

// respondError is writeError on the fast path: the same status, fields
// and text.
func respondError(x *http1.Exchange, code int, msg string) {
	x.Respond(code, "text/plain; charset=utf-8", []byte(msg+"\n"))
}
