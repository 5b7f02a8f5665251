package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"

	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/network/forward"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/network/httpstatus"
	"flywheel.dev/pkg/telemetry"
	"flywheel.dev/pkg/telemetry/providers"
)

// Options configure a Proxy.
type Options struct {
	// Table returns the routing table in force; it is called once per
	// request, so a swap applies to the next request and never to one in
	// flight.
	Table func() *routing.Table
	// Dial opens connections to endpoints; nil uses a net.Dialer with a
	// DialTimeout. Tests replace it.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// DialTimeout bounds each connection attempt; zero means 5s.
	DialTimeout time.Duration
	// MaxAttempts bounds the endpoints tried for one request when
	// connecting fails; zero means 3.
	MaxAttempts int
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// Meters makes the request metrics; nil makes none.
	Meters metric.MeterProvider
	// Tracer makes a span of each request; nil makes none, and the
	// caller's trace context passes through as it came.
	Tracer *telemetry.Tracer
}

// Proxy is the gateway's http.Handler.
type Proxy struct {
	table   func() *routing.Table
	reverse *httputil.ReverseProxy
	log     *slog.Logger
	metrics instruments
	tracer  *telemetry.Tracer
	// fast, swept and maxAttempts serve the HTTP/1.1 fast path
	// (ServeHTTP1): a pool per endpoint address, pruned when the table
	// changes.
	fast        *http1.UpstreamSet
	swept       atomic.Pointer[routing.Table]
	maxAttempts int
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{table: opts.Table, log: log, metrics: newInstruments(opts.Meters), tracer: opts.Tracer, maxAttempts: opts.MaxAttempts}
	if p.maxAttempts <= 0 {
		p.maxAttempts = defaultMaxAttempts
	}
	// As the net/http path's transport (forward.Transports): as many idle
	// connections per endpoint, kept as long.
	p.fast = http1.NewUpstreamSet(http1.UpstreamOptions{MaxIdle: 256, DialTimeout: opts.DialTimeout, Dial: opts.Dial})
	p.reverse = &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: newTransport(opts),
		// Zero still flushes every write of a response without a
		// Content-Length (streams, gRPC) or of an event stream at once;
		// -1 would also flush a response of known length in two writes,
		// a system call per request for nothing.
		FlushInterval:  0,
		BufferPool:     forward.NewBufferPool(32 << 10),
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.proxyError,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return p
}

// ServeHTTP routes r: the rule of the current table, then a backend of
// that rule by weight, then the rule's timeout around forwarding to an
// endpoint of that backend.
func (p *Proxy) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &httpstatus.Writer{ResponseWriter: rw}
	var route, backendName string
	ctx, span := p.tracer.StartServer(r, "gateway", providers.MethodAttribute(r.Method))
	defer func() {
		status := w.Final()
		p.metrics.record(r.Context(), start, r.Method, status, route, backendName)
		span.SetAttributes(attrStatus.Int(status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}()

	table := p.table()
	rule := table.Lookup(r)
	if rule == nil {
		gateway := "this gateway"
		if table != nil {
			gateway = "Gateway " + table.Gateway.String()
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no HTTPRoute of %s matches host %q, path %q", gateway, routing.NormalizeHost(r.Host), r.URL.Path))
		return
	}
	route = rule.Route.String()
	backend := rule.Pick()
	if backend != nil {
		backendName = backend.Name
	}
	span.SetAttributes(attrRoute.String(route), attrBackend.String(backendName), attrNamespace.String(rule.Route.Namespace))
	if code, msg := unservable(rule, backend); code != 0 {
		writeError(w, code, msg)
		return
	}

	st := &state{rule: rule, backend: backend, upgrade: isUpgrade(r)}
	if rule.Timeout > 0 {
		// timeouts.request bounds the wait for the response to start,
		// the request's body included, and ends when the response's
		// headers come (see transport): a started response streams on.
		// The Route reconciler sets it from a Revision's timeoutSeconds,
		// which bounds only the time to the response's start.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		timer := time.AfterFunc(rule.Timeout, func() {
			if st.phase.CompareAndSwap(phaseWaiting, phaseTimedOut) {
				cancel(&timeoutError{rule: rule})
			}
		})
		defer timer.Stop()
	} else {
		st.phase.Store(phaseUntimed)
	}
	p.reverse.ServeHTTP(w, p.tracer.Forward(withState(ctx, st), r))
}

// CloseIdleConnections closes the fast path's idle connections to
// endpoints.
func (p *Proxy) CloseIdleConnections() { p.fast.CloseIdleConnections() }

// unservable says why a request for rule cannot go to backend, the one
// picked of it, as a status and a message; 0 when it can.
func unservable(rule *routing.Rule, backend *routing.Backend) (int, string) {
	switch {
	case backend == nil:
		return http.StatusInternalServerError, fmt.Sprintf(
			"rule %d of HTTPRoute %s has no backendRef with a weight above zero", rule.Index, rule.Route)
	case backend.Invalid != "":
		return http.StatusInternalServerError, fmt.Sprintf("HTTPRoute %s: %s", rule.Route, backend.Invalid)
	case len(backend.Endpoints) == 0:
		return http.StatusServiceUnavailable, fmt.Sprintf("Service %s has no ready endpoints", backend.Name)
	}
	return 0, ""
}

// rewrite makes the outbound request: the inbound Host kept (backends see
// the hostname the client asked for), X-Forwarded-For/Host/Proto set from
// the inbound connection, and the request header filters applied: the
// rule's, then the chosen backend's, so that a backend's filter, which is
// the more specific, wins where both touch a header. The endpoint is
// chosen in the transport, per attempt.
func rewrite(pr *httputil.ProxyRequest) {
	// Appended to, not replaced: the chain of proxies before this one
	// stays readable, and its last entry, ours, is the one to trust.
	if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
	st := stateOf(pr.Out.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.backend.Name
	pr.Out.Host = pr.In.Host
	st.rule.RequestHeaders.Apply(pr.Out.Header)
	st.backend.RequestHeaders.Apply(pr.Out.Header)
}

// modifyResponse applies the response header filters in the order
// rewrite applies the request ones: the rule's, then the backend's.
func modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request.Context())
	st.rule.ResponseHeaders.Apply(resp.Header)
	st.backend.ResponseHeaders.Apply(resp.Header)
	return nil
}

// proxyError answers a request that could not be forwarded.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	var noEndpoint *noEndpointError
	switch {
	case st.phase.Load() == phaseTimedOut:
		writeError(w, http.StatusGatewayTimeout, (&timeoutError{rule: st.rule}).Error())
	case st.backendTimedOut.Load():
		writeError(w, http.StatusGatewayTimeout, backendTimeoutMessage(st.rule, st.backend))
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		p.log.Debug("client gone", "route", st.rule.Route.String(), "error", err)
	case errors.As(err, &noEndpoint):
		writeError(w, http.StatusBadGateway, noEndpoint.Error())
	default:
		p.log.Info("forwarding failed", "route", st.rule.Route.String(), "service", st.backend.Name, "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf("forwarding to Service %s failed: %v", st.backend.Name, err))
	}
}

// writeError answers with a plain-text body that says what went wrong,
// so that a user reading curl's output can act on it.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "%d %s: %s\n", code, http.StatusText(code), msg)
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return r.Header.Get("Upgrade") != ""
			}
		}
	}
	return false
}

// timeoutError is the cause of a request cancelled by its rule's
// timeouts.request.
type timeoutError struct{ rule *routing.Rule }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no answer started within the request timeout of %v (spec.rules[%d].timeouts.request of HTTPRoute %s)",
		e.rule.Timeout, e.rule.Index, e.rule.Route)
}
