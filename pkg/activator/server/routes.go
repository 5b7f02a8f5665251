package server

import (
	"math/rand/v2"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"flywheel.dev/pkg/apis/serving"
)

// routeIndex finds the Revision of a request that reached the activator
// without the headers naming it, from the HTTPRoutes the Route reconciler
// wrote: the rule its host and Knative-Serving-Tag header select, and of
// that rule's backends one the activator stands in for.
//
// Every backendRef of those HTTPRoutes sets the headers with a
// RequestHeaderModifier filter, which Gateway API leaves to each
// implementation: one that accepts the filter and ignores it (Traefik
// v3.6) would otherwise bring every request for a Revision at zero to the
// activator unnamed, and the Revision would never wake.
type routeIndex struct {
	mu sync.RWMutex
	// byHost holds the rules of each hostname.
	byHost map[string]*hostRules
	// hostsOf remembers each HTTPRoute's hostnames, to forget them when
	// it changes or goes.
	hostsOf map[types.NamespacedName][]string
}

// hostRules are an HTTPRoute's rules for one of its hostnames.
type hostRules struct {
	route types.NamespacedName
	// tagged are the rules matching a Knative-Serving-Tag value.
	tagged map[string][]routeBackend
	// all is the rule every other request matches.
	all []routeBackend
}

// routeBackend is one backendRef: the Revision its filter names, and its
// weight.
type routeBackend struct {
	revision types.NamespacedName
	weight   int32
}

func newRouteIndex() *routeIndex {
	return &routeIndex{byHost: map[string]*hostRules{}, hostsOf: map[types.NamespacedName][]string{}}
}

// set indexes hr, replacing what an earlier version of it said.
func (x *routeIndex) set(hr *gatewayv1.HTTPRoute) {
	key := types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name}
	rules := &hostRules{route: key, tagged: map[string][]routeBackend{}}
	for _, rule := range hr.Spec.Rules {
		backends := routeBackends(rule.BackendRefs)
		tag, tagged := tagOf(rule.Matches)
		switch {
		case tagged:
			rules.tagged[tag] = backends
		case rules.all == nil:
			rules.all = backends
		}
	}
	hosts := make([]string, 0, len(hr.Spec.Hostnames))
	for _, h := range hr.Spec.Hostnames {
		hosts = append(hosts, strings.ToLower(string(h)))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.forgetLocked(key)
	for _, h := range hosts {
		x.byHost[h] = rules
	}
	x.hostsOf[key] = hosts
}

// forget drops what HTTPRoute key said.
func (x *routeIndex) forget(key types.NamespacedName) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.forgetLocked(key)
}

func (x *routeIndex) forgetLocked(key types.NamespacedName) {
	for _, h := range x.hostsOf[key] {
		// Another HTTPRoute may have claimed the host since.
		if r := x.byHost[h]; r != nil && r.route == key {
			delete(x.byHost, h)
		}
	}
	delete(x.hostsOf, key)
}

// revisionFor picks the Revision of a request for host (a Host header,
// with or without a port) carrying tag (its Knative-Serving-Tag header,
// "" for none): among the backends of the rule they select, weighted as
// the rule weighs them, those inPath says have the activator in their
// path (the ones whose requests come here), or all when none has.
func (x *routeIndex) revisionFor(host, tag string, inPath func(types.NamespacedName) bool) (types.NamespacedName, bool) {
	host = strings.ToLower(stripPort(host))
	x.mu.RLock()
	rules := x.byHost[host]
	x.mu.RUnlock()
	if rules == nil {
		return types.NamespacedName{}, false
	}
	backends := rules.all
	if b, ok := rules.tagged[tag]; ok && tag != "" {
		backends = b
	}
	var candidates []routeBackend
	var total int64
	for _, b := range backends {
		if b.weight > 0 && inPath(b.revision) {
			candidates = append(candidates, b)
			total += int64(b.weight)
		}
	}
	if len(candidates) == 0 {
		for _, b := range backends {
			if b.weight > 0 {
				candidates = append(candidates, b)
				total += int64(b.weight)
			}
		}
	}
	if total == 0 {
		return types.NamespacedName{}, false
	}
	n := rand.Int64N(total)
	for _, b := range candidates {
		if n -= int64(b.weight); n < 0 {
			return b.revision, true
		}
	}
	return candidates[len(candidates)-1].revision, true
}

// routeBackends reads the Revision each backendRef's header filter names;
// a backendRef without one is not a Revision's and is left out.
func routeBackends(refs []gatewayv1.HTTPBackendRef) []routeBackend {
	var out []routeBackend
	for _, ref := range refs {
		var rev types.NamespacedName
		for _, f := range ref.Filters {
			if f.RequestHeaderModifier == nil {
				continue
			}
			for _, h := range f.RequestHeaderModifier.Set {
				switch {
				case strings.EqualFold(string(h.Name), serving.RevisionHeader):
					rev.Name = h.Value
				case strings.EqualFold(string(h.Name), serving.NamespaceHeader):
					rev.Namespace = h.Value
				}
			}
		}
		if rev.Name == "" || rev.Namespace == "" {
			continue
		}
		weight := int32(1) // the API's default
		if ref.Weight != nil {
			weight = *ref.Weight
		}
		out = append(out, routeBackend{revision: rev, weight: weight})
	}
	return out
}

// tagOf reports the tag a rule's Knative-Serving-Tag header match names.
func tagOf(matches []gatewayv1.HTTPRouteMatch) (string, bool) {
	for _, m := range matches {
		for _, h := range m.Headers {
			if strings.EqualFold(string(h.Name), serving.TagHeader) {
				return h.Value, true
			}
		}
	}
	return "", false
}

// stripPort is host without a port.
func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// handlers feed the index from an HTTPRoute informer.
func (x *routeIndex) handlers() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if hr, ok := obj.(*gatewayv1.HTTPRoute); ok {
				x.set(hr)
			}
		},
		UpdateFunc: func(_, obj any) {
			if hr, ok := obj.(*gatewayv1.HTTPRoute); ok {
				x.set(hr)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if hr, ok := obj.(*gatewayv1.HTTPRoute); ok {
				x.forget(types.NamespacedName{Namespace: hr.Namespace, Name: hr.Name})
			}
		},
	}
}
