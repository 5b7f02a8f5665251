package routing

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// H2CAppProtocol is the Service port appProtocol that makes the gateway
// speak HTTP/2 without TLS to the backend (Gateway API GEP-1911).
const H2CAppProtocol = "kubernetes.io/h2c"

// Input is what a Gateway's table is built from. The functions read the
// informers' caches; they must not block.
type Input struct {
	Gateway *gatewayv1.Gateway
	// Routes are every HTTPRoute of the cluster; those whose parentRefs
	// do not name Gateway are ignored.
	Routes []*gatewayv1.HTTPRoute
	// NamespaceLabels returns the labels of a namespace, for listeners
	// that allow routes by namespace selector.
	NamespaceLabels func(name string) (labels.Set, bool)
	// Service returns a Service, or false when there is none.
	Service func(namespace, name string) (*corev1.Service, bool)
	// EndpointSlices returns the EndpointSlices of a Service.
	EndpointSlices func(namespace, service string) []*discoveryv1.EndpointSlice
	// Endpoints shares Endpoint objects across builds.
	Endpoints *EndpointPool
}

// Result is a built table and what the Gateway says of the objects that
// went into it.
type Result struct {
	Table *Table
	// Listeners has one entry per listener of the Gateway, in order.
	Listeners []ListenerResult
	// Routes has one entry per HTTPRoute with a parentRef naming the
	// Gateway.
	Routes map[types.NamespacedName]*RouteResult
}

// ListenerResult says whether a listener is served and how many routes
// attach to it.
type ListenerResult struct {
	Name gatewayv1.SectionName
	// Reason is empty when the listener is served, else a listener
	// condition reason, with Message for users.
	Reason         gatewayv1.ListenerConditionReason
	Message        string
	AttachedRoutes int32
}

// RouteResult is what the Gateway says of one HTTPRoute.
type RouteResult struct {
	// Generation is the generation of the HTTPRoute the table holds.
	Generation int64
	// Parents has one entry per parentRef naming the Gateway.
	Parents []ParentResult
	// RefsReason is empty when every backendRef resolved, else why one
	// did not (a RouteConditionReason), with RefsMessage for users.
	RefsReason  gatewayv1.RouteConditionReason
	RefsMessage string
}

// ParentResult says whether the Gateway accepted an HTTPRoute through one
// of its parentRefs.
type ParentResult struct {
	Ref gatewayv1.ParentReference
	// Reason is empty when accepted, else a RouteConditionReason, with
	// Message for users.
	Reason  gatewayv1.RouteConditionReason
	Message string
}

// Build makes the table of in.Gateway.
func Build(in Input) *Result {
	gw := in.Gateway
	res := &Result{
		Table:  &Table{Gateway: types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, exact: map[string]*vhost{}},
		Routes: map[types.NamespacedName]*RouteResult{},
	}
	for _, l := range gw.Spec.Listeners {
		lr := ListenerResult{Name: l.Name}
		switch {
		case l.Protocol != gatewayv1.HTTPProtocolType:
			lr.Reason = gatewayv1.ListenerReasonUnsupportedProtocol
			lr.Message = fmt.Sprintf("listener %q: protocol %s is not supported; the flywheel gateway serves HTTP only", l.Name, l.Protocol)
		case !allowsHTTPRoutes(l):
			lr.Reason = gatewayv1.ListenerReasonInvalidRouteKinds
			lr.Message = fmt.Sprintf("listener %q: allowedRoutes.kinds must include HTTPRoute, the only kind the flywheel gateway serves", l.Name)
		}
		res.Listeners = append(res.Listeners, lr)
	}

	routes := slices.Clone(in.Routes)
	slices.SortFunc(routes, func(a, b *gatewayv1.HTTPRoute) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	hosts := map[string]*vhost{}
	for _, hr := range routes {
		refs := parentRefsTo(hr, gw)
		if len(refs) == 0 {
			continue
		}
		rr := &RouteResult{Generation: hr.Generation}
		res.Routes[types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}] = rr

		rules, unsupported := compileRules(hr, in, rr)
		served := map[string]bool{}
		for _, ref := range refs {
			pr := ParentResult{Ref: ref}
			if unsupported != "" {
				pr.Reason, pr.Message = gatewayv1.RouteReasonUnsupportedValue, unsupported
				rr.Parents = append(rr.Parents, pr)
				continue
			}
			hostnames, reason, msg := attach(hr, ref, gw, res.Listeners, in.NamespaceLabels)
			pr.Reason, pr.Message = reason, msg
			for _, h := range hostnames {
				served[h] = true
			}
			rr.Parents = append(rr.Parents, pr)
		}
		for h := range served {
			vh := hosts[h]
			if vh == nil {
				vh = &vhost{hostname: h}
				hosts[h] = vh
			}
			vh.matches = append(vh.matches, rules...)
		}
	}

	for h, vh := range hosts {
		slices.SortStableFunc(vh.matches, func(a, b *match) int {
			switch {
			case before(a, b):
				return -1
			case before(b, a):
				return 1
			}
			return 0
		})
		switch {
		case h == "":
			res.Table.any = vh
		case isWildcard(h):
			res.Table.wildcards = append(res.Table.wildcards, vh)
		default:
			res.Table.exact[h] = vh
		}
	}
	slices.SortFunc(res.Table.wildcards, func(a, b *vhost) int {
		if len(a.hostname) != len(b.hostname) {
			return len(b.hostname) - len(a.hostname)
		}
		return strings.Compare(a.hostname, b.hostname)
	})
	return res
}

func allowsHTTPRoutes(l gatewayv1.Listener) bool {
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		return true
	}
	for _, k := range l.AllowedRoutes.Kinds {
		if k.Kind == "HTTPRoute" && (k.Group == nil || *k.Group == gatewayv1.GroupName) {
			return true
		}
	}
	return false
}

// parentRefsTo returns the parentRefs of hr that name gw.
func parentRefsTo(hr *gatewayv1.HTTPRoute, gw *gatewayv1.Gateway) []gatewayv1.ParentReference {
	var refs []gatewayv1.ParentReference
	for _, ref := range hr.Spec.ParentRefs {
		if RefersTo(hr.Namespace, ref, gw.Namespace, gw.Name) {
			refs = append(refs, ref)
		}
	}
	return refs
}

// RefersTo reports whether ref, written in a route of routeNamespace,
// names the Gateway namespace/name.
func RefersTo(routeNamespace string, ref gatewayv1.ParentReference, namespace, name string) bool {
	if ref.Group != nil && *ref.Group != gatewayv1.GroupName {
		return false
	}
	if ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == namespace && string(ref.Name) == name
}

// attach finds the listeners of gw that ref selects and that accept hr,
// and returns the hostnames hr is served at through them, or why none
// accepts it.
func attach(hr *gatewayv1.HTTPRoute, ref gatewayv1.ParentReference, gw *gatewayv1.Gateway, listeners []ListenerResult,
	namespaceLabels func(string) (labels.Set, bool)) ([]string, gatewayv1.RouteConditionReason, string) {
	var hostnames []string
	selected, allowed := false, false
	for i := range gw.Spec.Listeners {
		l := &gw.Spec.Listeners[i]
		if ref.SectionName != nil && *ref.SectionName != l.Name {
			continue
		}
		if ref.Port != nil && *ref.Port != l.Port {
			continue
		}
		selected = true
		if listeners[i].Reason != "" || !allowsNamespace(l, gw.Namespace, hr.Namespace, namespaceLabels) {
			continue
		}
		allowed = true
		listenerHost := ""
		if l.Hostname != nil {
			listenerHost = strings.ToLower(string(*l.Hostname))
		}
		routeHosts := []string{""}
		if len(hr.Spec.Hostnames) > 0 {
			routeHosts = routeHosts[:0]
			for _, h := range hr.Spec.Hostnames {
				routeHosts = append(routeHosts, strings.ToLower(string(h)))
			}
		}
		attached := false
		for _, rh := range routeHosts {
			if h, ok := intersect(listenerHost, rh); ok {
				attached = true
				if !slices.Contains(hostnames, h) {
					hostnames = append(hostnames, h)
				}
			}
		}
		if attached {
			listeners[i].AttachedRoutes++
		}
	}
	switch {
	case !selected:
		return nil, gatewayv1.RouteReasonNoMatchingParent, fmt.Sprintf(
			"Gateway %s/%s has no listener that parentRef %s selects; check its sectionName and port", gw.Namespace, gw.Name, describeRef(ref))
	case !allowed:
		return nil, gatewayv1.RouteReasonNotAllowedByListeners, fmt.Sprintf(
			"no HTTP listener of Gateway %s/%s allows HTTPRoutes from namespace %q; set the listener's allowedRoutes.namespaces",
			gw.Namespace, gw.Name, hr.Namespace)
	case len(hostnames) == 0:
		return nil, gatewayv1.RouteReasonNoMatchingListenerHostname, fmt.Sprintf(
			"none of the HTTPRoute's hostnames matches a listener hostname of Gateway %s/%s", gw.Namespace, gw.Name)
	}
	return hostnames, "", ""
}

func describeRef(ref gatewayv1.ParentReference) string {
	s := string(ref.Name)
	if ref.SectionName != nil {
		s += " sectionName " + string(*ref.SectionName)
	}
	if ref.Port != nil {
		s += " port " + strconv.Itoa(int(*ref.Port))
	}
	return s
}

func allowsNamespace(l *gatewayv1.Listener, gatewayNamespace, routeNamespace string, namespaceLabels func(string) (labels.Set, bool)) bool {
	from := gatewayv1.NamespacesFromSame
	var selector *metav1.LabelSelector
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
		if l.AllowedRoutes.Namespaces.From != nil {
			from = *l.AllowedRoutes.Namespaces.From
		}
		selector = l.AllowedRoutes.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return routeNamespace == gatewayNamespace
	case gatewayv1.NamespacesFromSelector:
		if selector == nil || namespaceLabels == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return false
		}
		set, ok := namespaceLabels(routeNamespace)
		return ok && sel.Matches(set)
	}
	return false
}

// compileRules compiles the rules of hr. It returns, instead, a message
// naming the field when hr uses something this gateway does not support;
// such a route is not accepted at all, rather than served differently
// from what it says. Backend problems are recorded in rr and served as
// the Gateway API says (500 for the share of an invalid backend).
func compileRules(hr *gatewayv1.HTTPRoute, in Input, rr *RouteResult) ([]*match, string) {
	var matches []*match
	key := hr.Namespace + "/" + hr.Name
	created := hr.CreationTimestamp.UnixNano()
	for i, spec := range hr.Spec.Rules {
		field := fmt.Sprintf("spec.rules[%d]", i)
		rule := &Rule{Route: types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}, Index: i}
		if t := spec.Timeouts; t != nil {
			var err error
			if rule.Timeout, err = duration(t.Request, field+".timeouts.request"); err != nil {
				return nil, err.Error()
			}
			if rule.BackendTimeout, err = duration(t.BackendRequest, field+".timeouts.backendRequest"); err != nil {
				return nil, err.Error()
			}
		}
		var unsupported string
		if rule.RequestHeaders, rule.ResponseHeaders, unsupported = compileFilters(spec.Filters, field); unsupported != "" {
			return nil, unsupported
		}
		for j, ref := range spec.BackendRefs {
			refField := fmt.Sprintf("%s.backendRefs[%d]", field, j)
			requestHeaders, responseHeaders, unsupported := compileFilters(ref.Filters, refField)
			if unsupported != "" {
				return nil, unsupported
			}
			b := resolveBackend(hr.Namespace, ref.BackendRef, in, rr, refField)
			b.RequestHeaders, b.ResponseHeaders = requestHeaders, responseHeaders
			rule.Backends = append(rule.Backends, b)
		}
		specMatches := spec.Matches
		if len(specMatches) == 0 {
			specMatches = []gatewayv1.HTTPRouteMatch{{}}
		}
		for j, sm := range specMatches {
			m, err := compileMatch(sm, fmt.Sprintf("%s.matches[%d]", field, j))
			if err != nil {
				return nil, err.Error()
			}
			m.rule, m.routeKey, m.routeCreated, m.ruleIndex, m.matchIndex = rule, key, created, i, j
			matches = append(matches, m)
		}
	}
	return matches, ""
}

// duration parses a Gateway API duration (GEP-2257, a subset of Go's
// syntax); zero means no timeout.
func duration(d *gatewayv1.Duration, field string) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 30s or 1h30m", field, *d)
	}
	return v, nil
}

// compileFilters compiles the filters of a rule or of a backendRef, field
// being the path of their owner. It returns, instead, a message naming
// the first filter this gateway does not support.
func compileFilters(filters []gatewayv1.HTTPRouteFilter, field string) (request, response *HeaderModifier, unsupported string) {
	for i, f := range filters {
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			request = headerModifier(f.RequestHeaderModifier)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			response = headerModifier(f.ResponseHeaderModifier)
		default:
			return nil, nil, fmt.Sprintf("%s.filters[%d]: filter type %s is not supported by the flywheel gateway; "+
				"RequestHeaderModifier and ResponseHeaderModifier are", field, i, f.Type)
		}
	}
	return request, response, ""
}

func headerModifier(f *gatewayv1.HTTPHeaderFilter) *HeaderModifier {
	if f == nil {
		return nil
	}
	m := &HeaderModifier{Set: map[string]string{}, Add: map[string]string{}, Remove: f.Remove}
	for _, h := range f.Set {
		m.Set[string(h.Name)] = h.Value
	}
	for _, h := range f.Add {
		m.Add[string(h.Name)] = h.Value
	}
	m.prepare()
	return m
}

// resolveBackend resolves a backendRef to the ready endpoints of a
// Service port. A reference that cannot be resolved becomes an Invalid
// backend and the first such problem is recorded in rr.
func resolveBackend(routeNamespace string, ref gatewayv1.BackendRef, in Input, rr *RouteResult, field string) *Backend {
	weight := int32(1)
	if ref.Weight != nil {
		weight = *ref.Weight
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	b := &Backend{Name: ns + "/" + string(ref.Name), Weight: weight}
	if ref.Port != nil {
		b.Name += ":" + strconv.Itoa(int(*ref.Port))
	}
	fail := func(reason gatewayv1.RouteConditionReason, msg string) *Backend {
		b.Invalid = field + ": " + msg
		if rr.RefsReason == "" {
			rr.RefsReason, rr.RefsMessage = reason, b.Invalid
		}
		return b
	}

	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		return fail(gatewayv1.RouteReasonInvalidKind, "only Services (group \"\", kind Service) can be backends")
	}
	if ns != routeNamespace {
		// ReferenceGrants are not read: a reference across namespaces is
		// never allowed.
		return fail(gatewayv1.RouteReasonRefNotPermitted, fmt.Sprintf(
			"Service %s is in another namespace; the flywheel gateway does not support ReferenceGrant, put the HTTPRoute in namespace %s", b.Name, ns))
	}
	if ref.Port == nil {
		return fail(gatewayv1.RouteReasonUnsupportedValue, "port is required for a Service backend")
	}
	svc, ok := in.Service(ns, string(ref.Name))
	if !ok {
		return fail(gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s/%s not found", ns, ref.Name))
	}
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == *ref.Port {
			port = &svc.Spec.Ports[i]
		}
	}
	if port == nil {
		return fail(gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s/%s has no port %d", ns, ref.Name, *ref.Port))
	}
	if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
		return fail(gatewayv1.RouteReasonUnsupportedProtocol, fmt.Sprintf("port %d of Service %s/%s is %s, not TCP", *ref.Port, ns, ref.Name, port.Protocol))
	}
	b.H2C = port.AppProtocol != nil && *port.AppProtocol == H2CAppProtocol
	b.Endpoints = endpoints(in, ns, svc.Name, port)
	return b
}

// endpoints returns the ready addresses behind a Service port, each with
// the port its EndpointSlice gives for it: the slice port of the same
// name, or, when the Service maps to a numbered targetPort, the slice
// port of that number. When no endpoint is ready, those still serving
// while they terminate are used, so that a draining revision finishes
// what it can rather than the gateway answering 503 early.
func endpoints(in Input, namespace, service string, port *corev1.ServicePort) []*Endpoint {
	var ready, terminating []string
	seen := map[string]bool{}
	for _, slice := range in.EndpointSlices(namespace, service) {
		if slice.AddressType != discoveryv1.AddressTypeIPv4 && slice.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		number, ok := slicePort(slice, port)
		if !ok {
			continue
		}
		for _, ep := range slice.Endpoints {
			isReady := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			isServing := ep.Conditions.Serving != nil && *ep.Conditions.Serving
			for _, addr := range ep.Addresses {
				a := net.JoinHostPort(addr, strconv.Itoa(int(number)))
				if seen[a] {
					continue
				}
				switch {
				case isReady:
					seen[a] = true
					ready = append(ready, a)
				case isServing:
					terminating = append(terminating, a)
				}
			}
		}
	}
	if len(ready) == 0 {
		ready = terminating
	}
	slices.Sort(ready)
	ready = slices.Compact(ready)
	out := make([]*Endpoint, 0, len(ready))
	for _, a := range ready {
		out = append(out, in.Endpoints.get(a))
	}
	return out
}

func slicePort(slice *discoveryv1.EndpointSlice, port *corev1.ServicePort) (int32, bool) {
	for _, p := range slice.Ports {
		if p.Port == nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
			continue
		}
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name == port.Name {
			return *p.Port, true
		}
	}
	if port.TargetPort.IntValue() > 0 {
		for _, p := range slice.Ports {
			if p.Port != nil && *p.Port == int32(port.TargetPort.IntValue()) {
				return *p.Port, true
			}
		}
	}
	return 0, false
}
