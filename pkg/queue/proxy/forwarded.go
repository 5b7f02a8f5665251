package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"flywheel.dev/pkg/network/http1"
	"flywheel.dev/pkg/telemetry/providers"
)

// setForwarded tells the app who asked, through which host and over which
// scheme. The sidecar is the last of a chain (gateway, maybe activator):
// it appends its hop to X-Forwarded-For and Forwarded instead of replacing
// them, and keeps the X-Forwarded-Host and -Proto an earlier hop set,
// because only the first hop saw the client's real host and scheme (a
// gateway that terminated TLS says https; this hop is always plain http).
func setForwarded(in, out *http.Request) {
	ip, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		ip = ""
	}
	// The ReverseProxy removed these from out before Rewrite so that a
	// client cannot smuggle them past a proxy that sets its own; read the
	// earlier hops' values from in.
	if ip != "" {
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			out.Header["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + ip}
		} else {
			out.Header["X-Forwarded-For"] = []string{ip}
		}
	}
	if v := in.Header["X-Forwarded-Host"]; len(v) > 0 {
		out.Header["X-Forwarded-Host"] = v
	} else if in.Host != "" {
		out.Header["X-Forwarded-Host"] = []string{in.Host}
	}
	if v := in.Header["X-Forwarded-Proto"]; len(v) > 0 {
		out.Header["X-Forwarded-Proto"] = v
	} else {
		out.Header["X-Forwarded-Proto"] = []string{schemeOf(in)}
	}
	hop := forwardedElement(ip, in.Host, schemeOf(in))
	if prior := in.Header["Forwarded"]; len(prior) > 0 {
		out.Header["Forwarded"] = []string{strings.Join(prior, ", ") + ", " + hop}
	} else {
		out.Header["Forwarded"] = []string{hop}
	}
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// forwardedElement writes one RFC 7239 element for this hop.
func forwardedElement(ip, host, proto string) string {
	var b strings.Builder
	b.Grow(len(ip) + len(host) + 32)
	if ip != "" {
		b.WriteString("for=")
		if strings.IndexByte(ip, ':') >= 0 {
			// An IPv6 node must be a quoted, bracketed string.
			b.WriteString(`"[` + ip + `]"`)
		} else {
			b.WriteString(ip)
		}
		b.WriteByte(';')
	}
	if host != "" {
		b.WriteString("host=")
		writeValue(&b, host)
		b.WriteByte(';')
	}
	b.WriteString("proto=")
	b.WriteString(proto)
	return b.String()
}

// writeValue writes v as an RFC 7239 value: a token when it can be one, a
// quoted string otherwise (a host with a port has a colon, which a token
// may not hold).
func writeValue(b *strings.Builder, v string) {
	if isToken(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

func isToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

var traceContext = propagation.TraceContext{}

// propagateTrace passes the caller's W3C trace context to the app. The
// header is already copied with the others; running it through the
// propagator drops a malformed traceparent (and its tracestate), which the
// app could otherwise mistake for a parent, and writes it in canonical
// form. Requests without one, most of them, cost a map lookup.
func propagateTrace(in, out *http.Request) {
	if _, ok := in.Header["Traceparent"]; !ok {
		return
	}
	ctx := traceContext.Extract(context.Background(), propagation.HeaderCarrier(in.Header))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		out.Header.Del("Traceparent")
		out.Header.Del("Tracestate")
		return
	}
	traceContext.Inject(ctx, propagation.HeaderCarrier(out.Header))
}

// tracedForward forwards one fast-path request under a span of the
// sidecar's: to the app, once, with that span as the parent in the
// request's trace context, in place of the caller's. The Attempts of
// ForwardAttempts are per request, so the rewrite knows the span
// without any state kept beside the request. Reused (tracedForwards).
type tracedForward struct {
	app    *http1.Upstream
	parent *providers.TraceFields
}

var tracedForwards = sync.Pool{New: func() any { return new(tracedForward) }}

func (t *tracedForward) Next(failed error) *http1.Upstream {
	if failed != nil {
		return nil
	}
	return t.app
}

// Rewrite sets what setForwarded and the tracing stage set on the
// net/http path.
func (t *tracedForward) Rewrite(r *http1.Request, h *http1.HeaderWriter) {
	rewriteForwardedHTTP1(r, h)
	t.parent.Rewrite(r, h)
}

// rewriteHTTP1 sets on a fast-path request the fields that setForwarded
// and propagateTrace set on the net/http path, to the byte: the app
// cannot tell which path a request took (TestFastPathForwardsAsNetHTTP).
func rewriteHTTP1(r *http1.Request, h *http1.HeaderWriter) {
	rewriteForwardedHTTP1(r, h)
	passTraceHTTP1(r, h)
}

// rewriteForwardedHTTP1 is setForwarded on the fast path.
func rewriteForwardedHTTP1(r *http1.Request, h *http1.HeaderWriter) {
	ip := r.RemoteIP
	host := string(r.Host)
	for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
		r.Drop(name)
	}
	if ip != "" {
		if r.Has("X-Forwarded-For") {
			h.AddJoined("X-Forwarded-For", r, ip)
		} else {
			h.Add("X-Forwarded-For", ip)
		}
	}
	if r.Has("X-Forwarded-Host") {
		h.AddEach("X-Forwarded-Host", r)
	} else if host != "" {
		h.Add("X-Forwarded-Host", host)
	}
	if r.Has("X-Forwarded-Proto") {
		h.AddEach("X-Forwarded-Proto", r)
	} else {
		h.Add("X-Forwarded-Proto", "http") // the fast path serves no TLS
	}
	hop := forwardedElement(ip, host, "http")
	if r.Has("Forwarded") {
		h.AddJoined("Forwarded", r, hop)
	} else {
		h.Add("Forwarded", hop)
	}
}

// passTraceHTTP1 is propagateTrace on the fast path.
func passTraceHTTP1(r *http1.Request, h *http1.HeaderWriter) {
	if !r.Has("Traceparent") {
		return
	}
	in := http.Header{}
	for _, name := range []string{"Traceparent", "Tracestate"} {
		r.Values(name, func(v []byte) { in[name] = append(in[name], string(v)) })
	}
	ctx := traceContext.Extract(context.Background(), propagation.HeaderCarrier(in))
	r.Drop("Traceparent")
	if !trace.SpanContextFromContext(ctx).IsValid() {
		r.Drop("Tracestate")
		return
	}
	out := http.Header{}
	traceContext.Inject(ctx, propagation.HeaderCarrier(out))
	h.Add("Traceparent", out.Get("Traceparent"))
	// Inject sets Tracestate only when it kept one; otherwise the copy
	// of the client's stays, as on the net/http path.
	if ts := out.Get("Tracestate"); ts != "" {
		r.Drop("Tracestate")
		h.Add("Tracestate", ts)
	}
}
