package routing

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Table is the routing of one Gateway at one moment. It is never changed
// once built: a new configuration is a new Table, swapped in whole, so a
// request keeps the rule, backends and endpoints it started with.
type Table struct {
	// Gateway is the Gateway the table serves.
	Gateway types.NamespacedName

	exact     map[string]*vhost
	wildcards []*vhost // longest suffix first
	any       *vhost   // routes and listeners without a hostname
}

// vhost holds the matches of every route that serves one hostname, in
// precedence order.
type vhost struct {
	hostname string
	matches  []*match
}

// Lookup returns the rule that serves r, or nil when no route matches.
//
// The most specific hostname wins before any path is looked at: an exact
// hostname, then the wildcard with the longest suffix, then routes that
// accept any host. The Gateway API gives precedence to the route with the
// most specific matching hostname; like a virtual host, a request whose
// hostname is claimed does not fall through to a less specific one.
func (t *Table) Lookup(r *http.Request) *Rule {
	if t == nil {
		return nil
	}
	return t.LookupRequest(&Request{
		Host: r.Host, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: netHTTPHeader{r.Header},
	})
}

// Request is what a rule matches a request by, apart from the server
// that read it: the gateway's net/http path and its HTTP/1.1 fast path
// each describe their requests with one.
type Request struct {
	// Host is the Host header as received, port included.
	Host   string
	Method string
	// Path is the request target's path, percent-decoded (url.URL's
	// Path).
	Path string
	// RawQuery is the target's query, without the '?'.
	RawQuery string
	// Header gives the request's header fields.
	Header HeaderSource
}

// HeaderSource gives a request's header fields to match.
type HeaderSource interface {
	// Joined returns the values of the fields called name (canonical,
	// matched without regard to case), joined by ",", and whether any is
	// present.
	Joined(name string) (string, bool)
}

type netHTTPHeader struct{ h http.Header }

func (n netHTTPHeader) Joined(name string) (string, bool) {
	values, ok := n.h[name]
	if len(values) == 1 {
		return values[0], ok
	}
	return strings.Join(values, ","), ok
}

// LookupRequest is Lookup for a request described by r.
func (t *Table) LookupRequest(r *Request) *Rule {
	if t == nil {
		return nil
	}
	host := NormalizeHost(r.Host)
	vh := t.exact[host]
	if vh == nil {
		for _, w := range t.wildcards {
			if wildcardMatches(w.hostname, host) {
				vh = w
				break
			}
		}
	}
	if vh == nil {
		vh = t.any
	}
	if vh == nil {
		return nil
	}
	for _, m := range vh.matches {
		if m.matches(r) {
			return m.rule
		}
	}
	return nil
}

// EachEndpoint calls fn with each endpoint of the table's backends, once
// per backend that holds it.
func (t *Table) EachEndpoint(fn func(*Endpoint)) {
	if t == nil {
		return
	}
	seen := map[*Rule]bool{}
	visit := func(vh *vhost) {
		if vh == nil {
			return
		}
		for _, m := range vh.matches {
			if seen[m.rule] {
				continue
			}
			seen[m.rule] = true
			for _, b := range m.rule.Backends {
				for _, e := range b.Endpoints {
					fn(e)
				}
			}
		}
	}
	for _, vh := range t.exact {
		visit(vh)
	}
	for _, vh := range t.wildcards {
		visit(vh)
	}
	visit(t.any)
}

// Rule is one rule of an HTTPRoute as the table serves it.
type Rule struct {
	// Route is the HTTPRoute the rule belongs to and Index its place in
	// spec.rules, for messages and logs.
	Route types.NamespacedName
	Index int
	// Timeout bounds the whole request (timeouts.request); zero means
	// none.
	Timeout time.Duration
	// BackendTimeout bounds each attempt on a backend
	// (timeouts.backendRequest); zero means none.
	BackendTimeout time.Duration
	// RequestHeaders and ResponseHeaders are the rule's header
	// modifier filters, nil when it has none.
	RequestHeaders, ResponseHeaders *HeaderModifier
	// Backends are the rule's backendRefs, in order, weight 0 included.
	Backends []*Backend
}

// Pick returns the backend the next request goes to, or nil when no
// backend has a weight above zero. The choice is random in proportion to
// the weights. Being stateless, it stays exact in expectation however
// often tables are rebuilt: a round-robin's position would restart with
// every rebuild, and rebuilds happen on any Service or EndpointSlice
// change, which would skew a 90/10 split toward the larger side.
func (r *Rule) Pick() *Backend {
	var total int64
	for _, b := range r.Backends {
		if b.Weight > 0 {
			total += int64(b.Weight)
		}
	}
	if total == 0 {
		return nil
	}
	n := rand.Int64N(total)
	for _, b := range r.Backends {
		if b.Weight <= 0 {
			continue
		}
		if n < int64(b.Weight) {
			return b
		}
		n -= int64(b.Weight)
	}
	return nil
}

// HeaderModifier is a RequestHeaderModifier or ResponseHeaderModifier
// filter.
type HeaderModifier struct {
	Set, Add map[string]string
	Remove   []string

	// The modifier as Fields gives it, prepared by Build.
	prepared   bool
	plain      bool
	sets, adds []HeaderField
}

// HeaderField is one field a header modifier writes, its name in
// canonical form.
type HeaderField struct{ Name, Value string }

// Fields returns the modifier's Set and Add fields, names canonical and
// in name order, for a server that writes header fields itself (the
// gateway's HTTP/1.1 fast path). ok is false when that server must leave
// the request to net/http, which applies the modifier as Apply does: the
// modifier touches a field such a server frames or sets itself (Host,
// Content-Length, the hop-by-hop fields, Forwarded, X-Forwarded-*, the
// trace context, Date), or
// holds a name or value that could not be written as it is.
func (m *HeaderModifier) Fields() (set, add []HeaderField, ok bool) {
	if !m.prepared {
		return nil, nil, false
	}
	return m.sets, m.adds, m.plain
}

// prepare computes what Fields returns.
func (m *HeaderModifier) prepare() {
	m.prepared, m.plain = true, true
	fields := func(kv map[string]string) []HeaderField {
		out := make([]HeaderField, 0, len(kv))
		for k, v := range kv {
			if !writable(k, v) {
				m.plain = false
			}
			out = append(out, HeaderField{Name: http.CanonicalHeaderKey(k), Value: v})
		}
		slices.SortFunc(out, func(a, b HeaderField) int { return strings.Compare(a.Name, b.Name) })
		return out
	}
	m.sets, m.adds = fields(m.Set), fields(m.Add)
	for _, k := range m.Remove {
		if !writable(k, "") {
			m.plain = false
		}
	}
}

// proxyOwnedFields are the fields a proxy writing its own heads frames or
// sets itself: a filter on them goes through net/http.
var proxyOwnedFields = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Connection",
	"Keep-Alive", "Te", "Trailer", "Upgrade", "Expect", "Proxy-Authenticate", "Proxy-Authorization",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"Traceparent", "Tracestate", "Date",
}

// writable reports whether a filter's name and value can be written on
// the wire as they are, on a field no proxy owns.
func writable(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	for _, f := range proxyOwnedFields {
		if strings.EqualFold(name, f) {
			return false
		}
	}
	return true
}

// Apply modifies h as the filter says: set, then add, then remove.
func (m *HeaderModifier) Apply(h http.Header) {
	if m == nil {
		return
	}
	for k, v := range m.Set {
		h.Set(k, v)
	}
	for k, v := range m.Add {
		h.Add(k, v)
	}
	for _, k := range m.Remove {
		h.Del(k)
	}
}

// Backend is one backendRef of a rule.
type Backend struct {
	// Name is namespace/name:port of the Service, for messages.
	Name string
	// Weight is the backendRef's weight; 0 is never chosen.
	Weight int32
	// Invalid, when not empty, says why the reference cannot be served;
	// the requests that would go to it get 500.
	Invalid string
	// H2C is true when the Service port says its protocol is HTTP/2
	// without TLS (appProtocol kubernetes.io/h2c).
	H2C bool
	// RequestHeaders and ResponseHeaders are the backendRef's header
	// modifier filters, nil when it has none. They apply only to the
	// requests that go to this backend, after the rule's, so a backend
	// has the last word on a header both set.
	RequestHeaders, ResponseHeaders *HeaderModifier
	// Endpoints are the ready addresses behind the Service port.
	Endpoints []*Endpoint
}

// Pick returns the endpoint with the fewest requests in flight, skipping
// those in tried, or nil when none is left. Ties are broken from a random
// starting point, so that idle endpoints share the load.
//
// Fewest-in-flight rather than round-robin: a revision's pods each take a
// bounded number of concurrent requests, and requests differ in length
// (streams and WebSockets last minutes); counting what is in flight keeps
// a pod that is busy with long requests, or slow, from being handed more
// while others idle, which round-robin would do.
func (b *Backend) Pick(tried []*Endpoint) *Endpoint {
	n := len(b.Endpoints)
	if n == 0 {
		return nil
	}
	var best *Endpoint
	var bestLoad int64
	start := rand.IntN(n)
	for i := range n {
		e := b.Endpoints[(start+i)%n]
		if contains(tried, e) {
			continue
		}
		if load := e.inFlight.Load(); best == nil || load < bestLoad {
			best, bestLoad = e, load
		}
	}
	return best
}

func contains(es []*Endpoint, e *Endpoint) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// Endpoint is one address:port behind a Service port. The same Endpoint
// is shared by every table that holds its address (see EndpointPool), so
// its count of requests in flight survives a table swap.
type Endpoint struct {
	// Address is ip:port.
	Address  string
	inFlight atomic.Int64
}

// Begin counts a request to e as in flight.
func (e *Endpoint) Begin() { e.inFlight.Add(1) }

// End counts a request Begin counted as done; the caller makes sure it
// does so once.
func (e *Endpoint) End() { e.inFlight.Add(-1) }

// InFlight returns the requests now in flight to e.
func (e *Endpoint) InFlight() int64 { return e.inFlight.Load() }

// EndpointPool hands out one Endpoint per address across table builds.
// It is used by the one goroutine that builds tables.
type EndpointPool struct {
	byAddress map[string]*Endpoint
	used      map[string]bool
}

// NewEndpointPool returns an empty pool.
func NewEndpointPool() *EndpointPool {
	return &EndpointPool{byAddress: map[string]*Endpoint{}, used: map[string]bool{}}
}

// get returns the Endpoint of address, made on first use.
func (p *EndpointPool) get(address string) *Endpoint {
	p.used[address] = true
	e, ok := p.byAddress[address]
	if !ok {
		e = &Endpoint{Address: address}
		p.byAddress[address] = e
	}
	return e
}

// Prune forgets the addresses no build used since the last Prune. Call it
// after building the tables of every Gateway.
func (p *EndpointPool) Prune() {
	for a := range p.byAddress {
		if !p.used[a] {
			delete(p.byAddress, a)
		}
	}
	p.used = map[string]bool{}
}
