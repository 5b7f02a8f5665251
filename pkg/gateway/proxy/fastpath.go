package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/network/forward"
	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/telemetry/providers"
)

// sweepFor forgets, once per table, the endpoint pools of addresses t
// no longer holds: the pod is gone, and its idle connections with it.
func (p *Proxy) sweepFor(t *routing.Table) {
	if p.swept.Load() == t || p.swept.Swap(t) == t {
		return
	}
	go func() {
		live := map[string]bool{}
		t.EachEndpoint(func(e *routing.Endpoint) { live[e.Address] = true })
		p.fast.Retain(func(addr string) bool { return live[addr] })
	}()
}

// ServeHTTP1 is ServeHTTP on the HTTP/1.1 fast path (package http1), with
// the same routing, answers, headers, timeouts, retries, metrics and span,
// for the requests it can forward as the net/http path would. It declines
// to net/http, before choosing a backend so that the split keeps its
// weights, a request whose rule has a backend that speaks h2c, or a
// header filter on a field the fast path writes itself
// (HeaderModifier.Fields). Upgrades, HTTP/1.0 and the rest the parser
// declines never reach it.
func (p *Proxy) ServeHTTP1(x *http1.Exchange) {
	r := &x.Request
	table := p.table()
	if table == nil {
		x.Decline()
		return
	}
	p.sweepFor(table)
	start := time.Now()
	path, rawQuery := splitTarget(r.Target)
	req := routing.Request{Host: string(r.Host), Method: r.MethodString(), Path: path, RawQuery: rawQuery, Header: fastHeader{r}}
	rule := table.LookupRequest(&req)
	if rule != nil && !fastRule(rule) {
		x.Decline()
		return
	}

	var route, backendName string
	var span trace.Span
	tracing := p.tracer.On()
	if tracing {
		span = p.tracer.StartServerAt(http1.TraceCarrier{Request: r}, "gateway", start, providers.MethodAttributes(req.Method))
	}
	defer func() {
		status := x.Status()
		if status == 0 {
			status = http.StatusOK // as net/http records a request nobody answered
		}
		p.metrics.record(context.Background(), start, req.Method, status, route, backendName)
		if tracing {
			providers.SetAttribute(span, attrStatus.Int(status))
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
		}
	}()

	if rule == nil {
		gateway := "Gateway " + table.Gateway.String()
		respondError(x, http.StatusNotFound, fmt.Sprintf("no HTTPRoute of %s matches host %q, path %q", gateway, routing.NormalizeHost(req.Host), path))
		return
	}
	route = rule.Route.String()
	backend := rule.Pick()
	if backend != nil {
		backendName = backend.Name
	}
	if tracing {
		// One at a time: SetAttributes' variadic slice would cost an
		// allocation.
		providers.SetAttribute(span, attrRoute.String(route))
		providers.SetAttribute(span, attrBackend.String(backendName))
		providers.SetAttribute(span, attrNamespace.String(rule.Route.Namespace))
	}
	if code, msg := unservable(rule, backend); code != 0 {
		respondError(x, code, msg)
		return
	}

	f := fastRequests.Get().(*fastRequest)
	defer f.release()
	f.p, f.rule, f.backend = p, rule, backend
	if tracing {
		f.parent.Set(span.SpanContext())
	}
	// timeouts.request from the arrival to the response's start, the
	// request's body included; timeouts.backendRequest over the whole
	// attempt, as the net/http path's contexts bound them.
	var lim http1.Limits
	var requestBy, backendBy time.Time
	if rule.Timeout > 0 {
		requestBy = start.Add(rule.Timeout)
		lim.ResponseStart = requestBy
	}
	if rule.BackendTimeout > 0 {
		backendBy = time.Now().Add(rule.BackendTimeout)
		lim.End = backendBy
	}
	err := x.ForwardAttempts(f, lim)
	if f.ep != nil {
		f.ep.End()
		f.ep = nil
	}
	switch {
	case err == nil || x.Started():
		if err != nil {
			p.log.Debug("a response broke off", "route", route, "service", backend.Name, "error", err)
		}
	case errors.Is(err, http1.ErrTimeout):
		if !requestBy.IsZero() && (backendBy.IsZero() || !backendBy.Before(requestBy)) {
			respondError(x, http.StatusGatewayTimeout, (&timeoutError{rule: rule}).Error())
		} else {
			respondError(x, http.StatusGatewayTimeout, backendTimeoutMessage(rule, backend))
		}
	default:
		p.fastFailed(x, f, route, err)
	}
}

// fastFailed answers a request the fast path could not forward, as
// proxyError does.
func (p *Proxy) fastFailed(x *http1.Exchange, f *fastRequest, route string, err error) {
	var ue *http1.UpstreamError
	switch {
	case errors.As(err, &ue) && ue.Connecting:
		// The last failure named as the net/http path's transport names it.
		last := &forward.DialError{Address: f.tried[len(f.tried)-1].Address, Err: ue.Err}
		respondError(x, http.StatusBadGateway, (&noEndpointError{backend: f.backend.Name, tried: f.tried, last: last}).Error())
	case ue != nil:
		p.log.Info("forwarding failed", "route", route, "service", f.backend.Name, "error", ue.Err)
		respondError(x, http.StatusBadGateway, fmt.Sprintf("forwarding to Service %s failed: %v", f.backend.Name, ue.Err))
	default:
		// The client went away or broke its request; nobody reads an
		// answer.
		p.log.Debug("client gone", "route", route, "error", err)
	}
}

// fastRule reports whether the fast path forwards for rule exactly as
// net/http would (see ServeHTTP1).
func fastRule(rule *routing.Rule) bool {
	if !plain(rule.RequestHeaders) || !plain(rule.ResponseHeaders) {
		return false
	}
	for _, b := range rule.Backends {
		if b.H2C || !plain(b.RequestHeaders) || !plain(b.ResponseHeaders) {
			return false
		}
	}
	return true
}

func plain(m *routing.HeaderModifier) bool {
	if m == nil {
		return true
	}
	_, _, ok := m.Fields()
	return ok
}

// fastRequest is one request on the fast path past its routing: the
// Attempts that pick its backend's endpoints, and the rewrite of its
// head. Pooled: a busy gateway makes one per request.
type fastRequest struct {
	p       *Proxy
	rule    *routing.Rule
	backend *routing.Backend
	// ep is the endpoint of the attempt in flight, counted there.
	ep       *routing.Endpoint
	tried    []*routing.Endpoint
	triedBuf [4]*routing.Endpoint
	// parent names the gateway's span when tracing, nothing otherwise:
	// the backend's parent.
	parent providers.TraceFields
	// edits is the header filters' work on the request's fields, then
	// on the response's.
	edits fieldEdits
}

var fastRequests = sync.Pool{New: func() any {
	f := &fastRequest{}
	f.tried = f.triedBuf[:0]
	return f
}}

func (f *fastRequest) release() {
	*f = fastRequest{}
	f.tried = f.triedBuf[:0]
	fastRequests.Put(f)
}

// Next picks the endpoint with the fewest requests in flight among those
// not tried yet, up to MaxAttempts, as the net/http path's transport.
func (f *fastRequest) Next(failed error) *http1.Upstream {
	if f.ep != nil {
		// Connecting failed: the attempt is over.
		f.ep.End()
		f.ep = nil
	}
	if failed != nil && len(f.tried) >= f.p.maxAttempts {
		return nil
	}
	ep := f.backend.Pick(f.tried)
	if ep == nil {
		return nil
	}
	f.tried = append(f.tried, ep)
	ep.Begin()
	f.ep = ep
	return f.p.fast.Get(ep.Address)
}

// forwardingFields are the fields the gateway sets itself: a client's
// own are dropped, as the net/http path's reverse proxy drops them.
var forwardingFields = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// Rewrite sets the fields rewrite sets on the net/http path: the
// client's X-Forwarded-For extended with its address, X-Forwarded-Host
// and -Proto, the trace context of the gateway's span, then the rule's
// and the backend's request header filters.
func (f *fastRequest) Rewrite(r *http1.Request, h *http1.HeaderWriter) {
	for _, name := range forwardingFields {
		r.Drop(name)
	}
	if ip := r.RemoteIP; ip != "" {
		if r.Has("X-Forwarded-For") {
			h.AddJoined("X-Forwarded-For", r, ip)
		} else {
			h.Add("X-Forwarded-For", ip)
		}
	}
	h.AddBytes("X-Forwarded-Host", r.Host)
	h.Add("X-Forwarded-Proto", "http") // the fast path serves no TLS
	f.parent.Rewrite(r, h)
	f.edits.start()
	f.edits.apply(r, f.rule.RequestHeaders)
	f.edits.apply(r, f.backend.RequestHeaders)
	f.edits.write(r, h)
}

// RewriteResponse applies the response header filters as
// modifyResponse does: the rule's, then the backend's.
func (f *fastRequest) RewriteResponse(resp *http1.ResponseHeader, h *http1.HeaderWriter) {
	if f.rule.ResponseHeaders == nil && f.backend.ResponseHeaders == nil {
		return
	}
	f.edits.start()
	f.edits.apply(resp, f.rule.ResponseHeaders)
	f.edits.apply(resp, f.backend.ResponseHeaders)
	f.edits.write(resp, h)
}

// headFields are a head's fields as header filters see them.
type headFields interface {
	http1.FieldValues
	Kept(name string) bool
	Drop(name string)
}

// fieldEdits applies header filters to a head as HeaderModifier.Apply
// applies them to an http.Header, and writes the outcome: fields the
// filters set or add replace or follow the received ones of their name,
// in the order Apply would leave them.
type fieldEdits struct {
	lines []editLine
	buf   [8]editLine
}

// editLine is a field to write: the filter's value, or, when received
// is set, the values received under that name, which a later Add must
// follow.
type editLine struct {
	routing.HeaderField
	received bool
}

func (e *fieldEdits) start() { e.lines = e.buf[:0] }

func (e *fieldEdits) apply(h headFields, m *routing.HeaderModifier) {
	if m == nil {
		return
	}
	set, add, _ := m.Fields()
	for _, s := range set {
		h.Drop(s.Name)
		e.remove(s.Name)
		e.lines = append(e.lines, editLine{HeaderField: s})
	}
	for _, a := range add {
		if h.Kept(a.Name) {
			// The received values come first, then the added one.
			h.Drop(a.Name)
			e.lines = append(e.lines, editLine{HeaderField: routing.HeaderField{Name: a.Name}, received: true})
		}
		e.lines = append(e.lines, editLine{HeaderField: a})
	}
	for _, name := range m.Remove {
		h.Drop(name)
		e.remove(name)
	}
}

func (e *fieldEdits) remove(name string) {
	kept := e.lines[:0]
	for _, l := range e.lines {
		if !strings.EqualFold(l.Name, name) {
			kept = append(kept, l)
		}
	}
	e.lines = kept
}

func (e *fieldEdits) write(h headFields, w *http1.HeaderWriter) {
	for _, l := range e.lines {
		if l.received {
			w.AddEach(l.Name, h)
		} else {
			w.Add(l.Name, l.Value)
		}
	}
}

// fastHeader gives routing a fast-path request's fields.
type fastHeader struct{ r *http1.Request }

func (h fastHeader) Joined(name string) (string, bool) {
	var joined []byte
	n := 0
	h.r.Values(name, func(v []byte) {
		if n > 0 {
			joined = append(joined, ',')
		}
		joined = append(joined, v...)
		n++
	})
	return string(joined), n > 0
}

// splitTarget returns an origin-form target's path, percent-decoded as
// url.URL's Path, and its query. The parser has checked every escape of
// the path.
func splitTarget(target []byte) (path, rawQuery string) {
	t := string(target)
	path, rawQuery, _ = strings.Cut(t, "?")
	if strings.IndexByte(path, '%') >= 0 {
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
	}
	return path, rawQuery
}

// respondError is writeError on the fast path: the same status, fields
// and text.
func respondError(x *http1.Exchange, code int, msg string) {
	x.Respond(code, "text/plain; charset=utf-8", []byte(fmt.Sprintf("%d %s: %s\n", code, http.StatusText(code), msg)))
}

func backendTimeoutMessage(rule *routing.Rule, backend *routing.Backend) string {
	return fmt.Sprintf("Service %s did not answer within the backend request timeout of %v (spec.rules[%d].timeouts.backendRequest of HTTPRoute %s)",
		backend.Name, rule.BackendTimeout, rule.Index, rule.Route)
}
