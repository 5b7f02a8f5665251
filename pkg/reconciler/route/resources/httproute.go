package resources

import (
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	revisionnames "flywheel.dev/pkg/reconciler/revision/resources/names"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/resources/names"
	"flywheel.dev/pkg/reconciler/route/traffic"
)

// TagHeader is the request header that picks a tagged target on a Route's
// main hosts, as in Knative.
const TagHeader = serving.TagHeader

// backendPort is the port of a Revision's public Service that carries
// requests (pkg/reconciler/revision/resources: 80, named http or http2).
const backendPort gatewayv1.PortNumber = 80

// maxRules is the most rules the standard channel lets an HTTPRoute hold.
const maxRules = 16

// MakeHTTPRoutes returns the HTTPRoutes that serve tc at route's hosts,
// one per host, each attached to the Gateway of its host's visibility and
// controlled by the Route. A cluster-local host's HTTPRoute also matches
// its short names (see hostnames).
//
// A main host splits requests by the targets' percents and, with
// tag-header-based-routing on, sends a request whose Knative-Serving-Tag
// header names a tag to that tag's Revision. A tag's host sends every
// request to the tag's Revision. A rule's request timeout is the longest
// timeoutSeconds of the Revisions it sends to, so that the gateway does
// not cut off a request its Revision still allows. Every backendRef sets
// the Knative-Serving-Revision and Knative-Serving-Namespace headers of
// its Revision, which the activator needs (see backend).
//
// Every field the API server would default is written out, so that an
// HTTPRoute read back compares equal to the one made here and a
// reconciliation that changes nothing writes nothing.
func MakeHTTPRoutes(route *v1.Route, tc *traffic.Config, cfg *config.Config) ([]*gatewayv1.HTTPRoute, error) {
	hosts, err := Hosts(route, tc.Tags(), cfg)
	if err != nil {
		return nil, err
	}
	headerRouting := cfg.Features.TagHeaderBasedRouting != apisconfig.Disabled

	routes := make([]*gatewayv1.HTTPRoute, 0, len(hosts))
	for _, host := range hosts {
		var rules []gatewayv1.HTTPRouteRule
		if host.Tag == "" {
			if headerRouting {
				for _, t := range tc.Targets {
					if t.Tag != "" {
						rules = append(rules, rule(tc, tagMatch(t.Tag), backend(route.Namespace, t.RevisionName, 100)))
					}
				}
			}
			rules = append(rules, rule(tc, pathMatch(), split(route.Namespace, tc.Targets)...))
		} else {
			for _, t := range tc.Targets {
				if t.Tag == host.Tag {
					rules = append(rules, rule(tc, pathMatch(), backend(route.Namespace, t.RevisionName, 100)))
				}
			}
		}
		if len(rules) > maxRules {
			return nil, fmt.Errorf("routing the %s header needs a rule per tag, and an HTTPRoute holds at most %d rules: "+
				"use at most %d tags, or set %s to Disabled in %s",
				TagHeader, maxRules, maxRules-1, apisconfig.FeatureTagHeaderBasedRouting, apisconfig.FeaturesConfigName)
		}

		gateway := cfg.Network.ExternalGateway
		if host.Visibility == ClusterLocal {
			gateway = cfg.Network.ClusterLocalGateway
		}
		routes = append(routes, &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{
				Name:            names.HTTPRoute(host.Name),
				Namespace:       route.Namespace,
				Labels:          map[string]string{serving.RouteLabel.String(): route.Name},
				OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(route)},
			},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ParentRef(gateway)}},
				Hostnames:       hostnames(host),
				Rules:           rules,
			},
		})
	}
	return routes, nil
}

// hostnames returns the names a request for host may carry in its Host
// header. Inside the cluster a client may use any name its DNS search path
// completes, <name>.<namespace> and <name>.<namespace>.svc as much as
// <name>.<namespace>.svc.cluster.local, and the Host header keeps the
// name as the client wrote it; so a cluster-local host's HTTPRoute
// matches all three. The Route's Service makes them resolve.
func hostnames(host Host) []gatewayv1.Hostname {
	names := []gatewayv1.Hostname{gatewayv1.Hostname(host.Name)}
	short, ok := strings.CutSuffix(host.Name, "."+apisconfig.ClusterLocalDomain)
	if host.Visibility != ClusterLocal || !ok {
		return names
	}
	svc, _, _ := strings.Cut(apisconfig.ClusterLocalDomain, ".")
	return append(names, gatewayv1.Hostname(short+"."+svc), gatewayv1.Hostname(short))
}

// ParentRef is the reference of an HTTPRoute to the Gateway gw.
func ParentRef(gw types.NamespacedName) gatewayv1.ParentReference {
	return gatewayv1.ParentReference{
		Group:     ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
		Kind:      ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace(gw.Namespace)),
		Name:      gatewayv1.ObjectName(gw.Name),
	}
}

// rule returns a rule sending requests that match to backends, with the
// request timeout of the Revisions behind them.
func rule(tc *traffic.Config, match gatewayv1.HTTPRouteMatch, backends ...gatewayv1.HTTPBackendRef) gatewayv1.HTTPRouteRule {
	r := gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{match},
		BackendRefs: backends,
	}
	var timeout int64
	for _, b := range backends {
		if rev, ok := tc.Revisions[string(b.Name)]; ok && rev.Spec.TimeoutSeconds != nil {
			timeout = max(timeout, *rev.Spec.TimeoutSeconds)
		}
	}
	if timeout > 0 {
		r.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(Duration(timeout))}
	}
	return r
}

// pathMatch matches every request; it is what the API server fills in
// for a rule without matches.
func pathMatch() gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{
		Type:  ptr.To(gatewayv1.PathMatchPathPrefix),
		Value: ptr.To("/"),
	}}
}

// tagMatch matches requests whose tag header names tag.
func tagMatch(tag string) gatewayv1.HTTPRouteMatch {
	m := pathMatch()
	m.Headers = []gatewayv1.HTTPHeaderMatch{{
		Type:  ptr.To(gatewayv1.HeaderMatchExact),
		Name:  TagHeader,
		Value: tag,
	}}
	return m
}

// split returns the weighted backends of the targets, Revisions in
// namespace: one per Revision, in the order the targets first name it,
// weighted by the percents of all the targets that name it. Revisions
// with no share are left out, as a backend of weight 0 is still checked
// by the gateway.
func split(namespace string, targets []traffic.Target) []gatewayv1.HTTPBackendRef {
	var backends []gatewayv1.HTTPBackendRef
	at := map[string]int{}
	for _, t := range targets {
		if t.Percent <= 0 {
			continue
		}
		if i, ok := at[t.RevisionName]; ok {
			*backends[i].Weight += int32(t.Percent)
			continue
		}
		at[t.RevisionName] = len(backends)
		backends = append(backends, backend(namespace, t.RevisionName, t.Percent))
	}
	return backends
}

// backend is a reference to the public Service of a Revision in
// namespace, which sets the Revision's headers on the requests it gets.
//
// The headers are a backendRef filter, not a rule filter, because a rule
// that splits traffic sends each request to one of several Revisions and
// only the chosen backend knows which. The activator serves every
// Revision at one address and reads them to know whose request it holds.
// They are set, not added, so that a client cannot pick the Revision.
func backend(namespace, revision string, weight int64) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{
		BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{
				Group: ptr.To(gatewayv1.Group("")),
				Kind:  ptr.To(gatewayv1.Kind("Service")),
				Name:  gatewayv1.ObjectName(revisionnames.PublicService(revision)),
				Port:  ptr.To(backendPort),
			},
			Weight: ptr.To(int32(weight)),
		},
		Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
				Set: []gatewayv1.HTTPHeader{
					{Name: serving.RevisionHeader, Value: revision},
					{Name: serving.NamespaceHeader, Value: namespace},
				},
				// Only the activator may say a request came through it.
				Remove: []string{queue.ViaActivatorHeader},
			},
		}},
	}
}

// Duration writes seconds as a Gateway API duration (GEP-2257), which
// allows at most five digits per unit: whole seconds up to 99999s, hours,
// minutes and seconds beyond.
func Duration(seconds int64) gatewayv1.Duration {
	if seconds <= 99999 {
		return gatewayv1.Duration(strconv.FormatInt(seconds, 10) + "s")
	}
	h, m, s := seconds/3600, seconds%3600/60, seconds%60
	d := strconv.FormatInt(h, 10) + "h"
	if m > 0 {
		d += strconv.FormatInt(m, 10) + "m"
	}
	if s > 0 {
		d += strconv.FormatInt(s, 10) + "s"
	}
	return gatewayv1.Duration(d)
}
