package routing_test

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/routing"
)

func key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: gt.Namespace, Name: name}
}

// parentReasons returns, per route, the reason of each parent result
// ("" for accepted).
func parentReasons(res *routing.Result) map[string][]gatewayv1.RouteConditionReason {
	out := map[string][]gatewayv1.RouteConditionReason{}
	for k, rr := range res.Routes {
		for _, p := range rr.Parents {
			out[k.Name] = append(out[k.Name], p.Reason)
		}
	}
	return out
}

func TestBuildAttachesRoutesToListeners(t *testing.T) {
	listenerHost := func(gw *gatewayv1.Gateway) {
		gw.Spec.Listeners[0].Hostname = ptr.To(gatewayv1.Hostname("*.example.com"))
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "tls", Port: 443, Protocol: gatewayv1.HTTPSProtocolType})
	}
	gw := gt.Gateway("gw", listenerHost)
	routes := []*gatewayv1.HTTPRoute{
		gt.HTTPRoute("some-hosts", "gw", gt.WithHostnames("foo.example.com", "foo.other.org"), gt.WithRule(gt.Rule(nil, gt.Backend("foo", 80, 1)))),
		gt.HTTPRoute("no-hosts", "gw", gt.WithRule(gt.Rule(nil, gt.Backend("listener", 80, 1)))),
		gt.HTTPRoute("other-hosts", "gw", gt.WithHostnames("x.other.org"), gt.WithRule(gt.Rule(nil, gt.Backend("other", 80, 1)))),
		gt.HTTPRoute("wrong-section", "gw", func(hr *gatewayv1.HTTPRoute) {
			hr.Spec.ParentRefs[0].SectionName = ptr.To(gatewayv1.SectionName("nope"))
		}),
		gt.HTTPRoute("https-only", "gw", func(hr *gatewayv1.HTTPRoute) {
			hr.Spec.ParentRefs[0].SectionName = ptr.To(gatewayv1.SectionName("tls"))
		}),
		gt.HTTPRoute("unsupported-filter", "gw", gt.WithRule(gatewayv1.HTTPRouteRule{
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect}},
		})),
	}
	res := routing.Build(gt.Objects{Routes: routes}.Input(gw, nil))

	want := map[string][]gatewayv1.RouteConditionReason{
		"some-hosts":         {""},
		"no-hosts":           {""},
		"other-hosts":        {gatewayv1.RouteReasonNoMatchingListenerHostname},
		"wrong-section":      {gatewayv1.RouteReasonNoMatchingParent},
		"https-only":         {gatewayv1.RouteReasonNotAllowedByListeners},
		"unsupported-filter": {gatewayv1.RouteReasonUnsupportedValue},
	}
	if diff := cmp.Diff(want, parentReasons(res)); diff != "" {
		t.Errorf("parent results (-want, +got):\n%s", diff)
	}
	wantListeners := []routing.ListenerResult{{Name: "http", AttachedRoutes: 2}, {
		Name: "tls", Reason: gatewayv1.ListenerReasonUnsupportedProtocol,
		Message: `listener "tls": protocol HTTPS is not supported; the flywheel gateway serves HTTP only`,
	}}
	if diff := cmp.Diff(wantListeners, res.Listeners); diff != "" {
		t.Errorf("listeners (-want, +got):\n%s", diff)
	}
	for host, want := range map[string]string{
		"foo.example.com": svc("foo"),
		"foo.other.org":   "", // outside the listener's hostname
		"bar.example.com": svc("listener"),
		"x.other.org":     "",
	} {
		if got := matched(res.Table, "GET", host, "/"); got != want {
			t.Errorf("%s went to %q, want %q", host, got, want)
		}
	}
}

func TestBuildAllowedNamespaces(t *testing.T) {
	from := func(f gatewayv1.FromNamespaces, sel map[string]string) *gatewayv1.Gateway {
		return gt.Gateway("gw", func(gw *gatewayv1.Gateway) {
			ns := &gatewayv1.RouteNamespaces{From: ptr.To(f)}
			if sel != nil {
				ns.Selector = &metav1.LabelSelector{MatchLabels: sel}
			}
			gw.Spec.Listeners[0].AllowedRoutes.Namespaces = ns
			gw.Namespace = "gateways"
		})
	}
	route := gt.HTTPRoute("r", "gw", func(hr *gatewayv1.HTTPRoute) {
		hr.Spec.ParentRefs[0].Namespace = ptr.To(gatewayv1.Namespace("gateways"))
	})
	objs := gt.Objects{Routes: []*gatewayv1.HTTPRoute{route}, Namespaces: map[string]labels.Set{gt.Namespace: {"team": "a"}}}
	for _, tc := range []struct {
		name string
		gw   *gatewayv1.Gateway
		want gatewayv1.RouteConditionReason
	}{
		{"Same refuses another namespace", from(gatewayv1.NamespacesFromSame, nil), gatewayv1.RouteReasonNotAllowedByListeners},
		{"All", from(gatewayv1.NamespacesFromAll, nil), ""},
		{"Selector matching", from(gatewayv1.NamespacesFromSelector, map[string]string{"team": "a"}), ""},
		{"Selector not matching", from(gatewayv1.NamespacesFromSelector, map[string]string{"team": "b"}), gatewayv1.RouteReasonNotAllowedByListeners},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := routing.Build(objs.Input(tc.gw, nil))
			if diff := cmp.Diff(map[string][]gatewayv1.RouteConditionReason{"r": {tc.want}}, parentReasons(res)); diff != "" {
				t.Errorf("(-want, +got):\n%s", diff)
			}
		})
	}
}

func TestBuildResolvesBackends(t *testing.T) {
	named := gt.Service("named", 80, 8080)
	named.Spec.Ports[0].TargetPort = intstr.FromString("web")
	numbered := gt.Service("numbered", 80, 8012)
	numbered.Spec.Ports[0].Name = "" // matched by target port number only
	draining := gt.EndpointSlice("draining", "10.0.0.9:8080")
	draining.Endpoints[0].Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
	mixed := gt.EndpointSlice("ready", "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080")
	mixed.Endpoints[1].Conditions.Ready = ptr.To(false)
	mixed.Endpoints[2].Conditions.Ready = nil // unknown reads as ready
	second := gt.EndpointSlice("ready", "10.0.0.1:8080")
	second.Name = "ready-2" // the same address in two slices counts once
	numberedSlice := gt.EndpointSlice("numbered", "10.0.0.5:8012")
	numberedSlice.Ports[0].Name = ptr.To("")
	objs := gt.Objects{
		Services: []*corev1.Service{
			gt.Service("ready", 80, 8080), named, numbered, gt.Service("draining", 80, 8080),
			gt.Service("h2c", 80, 8080, gt.H2C), gt.Service("empty", 80, 8080),
		},
		Slices: []*discoveryv1.EndpointSlice{mixed, second, gt.EndpointSlice("named", "10.0.0.4:8080"), numberedSlice, draining},
	}
	ref := func(name string, port int32) gatewayv1.HTTPBackendRef { return gt.Backend(name, port, 1) }
	for _, tc := range []struct {
		name       string
		ref        gatewayv1.HTTPBackendRef
		wantAddrs  []string
		wantReason gatewayv1.RouteConditionReason
		wantH2C    bool
	}{
		{name: "ready endpoints only, deduplicated", ref: ref("ready", 80), wantAddrs: []string{"10.0.0.1:8080", "10.0.0.3:8080"}},
		{name: "slice port by name", ref: ref("named", 80), wantAddrs: []string{"10.0.0.4:8080"}},
		{name: "slice port by target port number", ref: ref("numbered", 80), wantAddrs: []string{"10.0.0.5:8012"}},
		{name: "terminating but serving when none is ready", ref: ref("draining", 80), wantAddrs: []string{"10.0.0.9:8080"}},
		{name: "h2c by appProtocol", ref: ref("h2c", 80), wantAddrs: []string{}, wantH2C: true},
		{name: "no endpoints is still resolved", ref: ref("empty", 80), wantAddrs: []string{}},
		{name: "missing Service", ref: ref("missing", 80), wantReason: gatewayv1.RouteReasonBackendNotFound},
		{name: "missing port", ref: ref("ready", 81), wantReason: gatewayv1.RouteReasonBackendNotFound},
		{name: "another kind", ref: func() gatewayv1.HTTPBackendRef {
			r := ref("ready", 80)
			r.Kind = ptr.To(gatewayv1.Kind("ServiceImport"))
			return r
		}(), wantReason: gatewayv1.RouteReasonInvalidKind},
		{name: "another namespace", ref: func() gatewayv1.HTTPBackendRef {
			r := ref("ready", 80)
			r.Namespace = ptr.To(gatewayv1.Namespace("elsewhere"))
			return r
		}(), wantReason: gatewayv1.RouteReasonRefNotPermitted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := objs
			objs.Routes = []*gatewayv1.HTTPRoute{gt.HTTPRoute("r", "gw", gt.WithRule(gt.Rule(nil, tc.ref)))}
			res := routing.Build(objs.Input(gt.Gateway("gw"), nil))
			rr := res.Routes[key("r")]
			if rr.RefsReason != tc.wantReason {
				t.Errorf("ResolvedRefs reason %q (%s), want %q", rr.RefsReason, rr.RefsMessage, tc.wantReason)
			}
			// An unresolved backend is still routed to, so that its
			// share of requests gets the 500 the spec asks for.
			rule := res.Table.Lookup(httptest.NewRequest("GET", "/", nil))
			if rule == nil {
				t.Fatal("the route is not served")
			}
			b := rule.Backends[0]
			if (b.Invalid != "") != (tc.wantReason != "") {
				t.Errorf("backend invalid %q, want invalid: %v", b.Invalid, tc.wantReason != "")
			}
			if tc.wantReason != "" {
				return
			}
			got := []string{}
			for _, e := range b.Endpoints {
				got = append(got, e.Address)
			}
			if diff := cmp.Diff(tc.wantAddrs, got); diff != "" {
				t.Errorf("endpoints (-want, +got):\n%s", diff)
			}
			if b.H2C != tc.wantH2C {
				t.Errorf("H2C = %v, want %v", b.H2C, tc.wantH2C)
			}
		})
	}
}

func TestBuildTimeoutsAndGenerations(t *testing.T) {
	route := gt.HTTPRoute("r", "gw", gt.WithRule(gatewayv1.HTTPRouteRule{
		Timeouts: &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("1m30s")), BackendRequest: ptr.To(gatewayv1.Duration("10s"))},
	}))
	route.Generation = 7
	bad := gt.HTTPRoute("bad", "gw", gt.WithRule(gatewayv1.HTTPRouteRule{
		Timeouts: &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("soon"))},
	}))
	res := routing.Build(gt.Objects{Routes: []*gatewayv1.HTTPRoute{route, bad}}.Input(gt.Gateway("gw"), nil))
	if g := res.Routes[key("r")].Generation; g != 7 {
		t.Errorf("generation %d, want 7", g)
	}
	rule := res.Table.Lookup(httptest.NewRequest("GET", "/", nil))
	if rule.Timeout.String() != "1m30s" || rule.BackendTimeout.String() != "10s" {
		t.Errorf("timeouts %v and %v, want 1m30s and 10s", rule.Timeout, rule.BackendTimeout)
	}
	p := res.Routes[key("bad")].Parents[0]
	if want := `spec.rules[0].timeouts.request: "soon" is not a duration such as 30s or 1h30m`; p.Reason != gatewayv1.RouteReasonUnsupportedValue || p.Message != want {
		t.Errorf("bad timeout: %s %q, want UnsupportedValue %q", p.Reason, p.Message, want)
	}
}

// buildWithEndpoint builds a table whose one backend has the endpoint
// address and returns that endpoint.
func buildWithEndpoint(pool *routing.EndpointPool, address string) *routing.Endpoint {
	objs := gt.Objects{
		Routes:   []*gatewayv1.HTTPRoute{gt.HTTPRoute("r", "gw", gt.WithRule(gt.Rule(nil, gt.Backend("s", 80, 1))))},
		Services: []*corev1.Service{gt.Service("s", 80, 8080)},
		Slices:   []*discoveryv1.EndpointSlice{gt.EndpointSlice("s", address)},
	}
	res := routing.Build(objs.Input(gt.Gateway("gw"), pool))
	return res.Table.Lookup(httptest.NewRequest("GET", "/", nil)).Backends[0].Endpoints[0]
}

func TestBuildBackendFilters(t *testing.T) {
	revision := gt.Backend("rev", 80, 1)
	revision.Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "Knative-Serving-Revision", Value: "rev"}},
		},
	}, {
		Type:                   gatewayv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Remove: []string{"Server"}},
	}}
	redirect := gt.Backend("rev", 80, 1)
	redirect.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect}}
	routes := []*gatewayv1.HTTPRoute{
		gt.HTTPRoute("filtered", "gw", gt.WithHostnames("filtered.example.com"),
			gt.WithRule(gt.Rule(nil, revision, gt.Backend("plain", 80, 1)))),
		gt.HTTPRoute("redirect", "gw", gt.WithHostnames("redirect.example.com"),
			gt.WithRule(gt.Rule(nil, gt.Backend("plain", 80, 1), redirect))),
	}
	res := routing.Build(gt.Objects{Routes: routes}.Input(gt.Gateway("gw"), nil))

	rule := res.Table.Lookup(httptest.NewRequest("GET", "http://filtered.example.com/", nil))
	if rule == nil {
		t.Fatal("the route with backendRef filters is not served")
	}
	wantRequest := &routing.HeaderModifier{Set: map[string]string{"Knative-Serving-Revision": "rev"}, Add: map[string]string{}}
	// What Fields gives is held in TestHeaderModifierFields.
	prepared := cmpopts.IgnoreUnexported(routing.HeaderModifier{})
	if diff := cmp.Diff(wantRequest, rule.Backends[0].RequestHeaders, prepared); diff != "" {
		t.Errorf("request headers of the filtered backend (-want, +got):\n%s", diff)
	}
	wantResponse := &routing.HeaderModifier{Set: map[string]string{}, Add: map[string]string{}, Remove: []string{"Server"}}
	if diff := cmp.Diff(wantResponse, rule.Backends[0].ResponseHeaders, prepared); diff != "" {
		t.Errorf("response headers of the filtered backend (-want, +got):\n%s", diff)
	}
	if plain := rule.Backends[1]; plain.RequestHeaders != nil || plain.ResponseHeaders != nil {
		t.Errorf("the backend without filters got %+v and %+v, want none", plain.RequestHeaders, plain.ResponseHeaders)
	}
	if rule.RequestHeaders != nil || rule.ResponseHeaders != nil {
		t.Errorf("the rule got the backend's filters: %+v and %+v", rule.RequestHeaders, rule.ResponseHeaders)
	}

	p := res.Routes[key("redirect")].Parents[0]
	wantMessage := "spec.rules[0].backendRefs[1].filters[0]: filter type RequestRedirect is not supported by the flywheel gateway; " +
		"RequestHeaderModifier and ResponseHeaderModifier are"
	if p.Reason != gatewayv1.RouteReasonUnsupportedValue || p.Message != wantMessage {
		t.Errorf("redirect on a backendRef: %s %q, want UnsupportedValue %q", p.Reason, p.Message, wantMessage)
	}
	if got := matched(res.Table, "GET", "redirect.example.com", "/"); got != "" {
		t.Errorf("the route with an unsupported backendRef filter is served, by %q", got)
	}
}

func TestHeaderModifierFields(t *testing.T) {
	build := func(f gatewayv1.HTTPHeaderFilter) *routing.HeaderModifier {
		ref := gt.Backend("rev", 80, 1)
		ref.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &f}}
		routes := []*gatewayv1.HTTPRoute{gt.HTTPRoute("r", "gw", gt.WithHostnames("a.example.com"), gt.WithRule(gt.Rule(nil, ref)))}
		res := routing.Build(gt.Objects{Routes: routes}.Input(gt.Gateway("gw"), nil))
		return res.Table.Lookup(httptest.NewRequest("GET", "http://a.example.com/", nil)).Backends[0].RequestHeaders
	}
	t.Run("plain: canonical names in order", func(t *testing.T) {
		set, add, ok := build(gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "knative-serving-revision", Value: "rev"}, {Name: "Knative-Serving-Namespace", Value: "demo"}},
			Add: []gatewayv1.HTTPHeader{{Name: "X-Extra", Value: "1"}},
		}).Fields()
		if !ok {
			t.Fatal("a filter on end-to-end fields is not plain")
		}
		wantSet := []routing.HeaderField{{Name: "Knative-Serving-Namespace", Value: "demo"}, {Name: "Knative-Serving-Revision", Value: "rev"}}
		if diff := cmp.Diff(wantSet, set); diff != "" {
			t.Errorf("set (-want, +got):\n%s", diff)
		}
		if diff := cmp.Diff([]routing.HeaderField{{Name: "X-Extra", Value: "1"}}, add); diff != "" {
			t.Errorf("add (-want, +got):\n%s", diff)
		}
	})
	for name, f := range map[string]gatewayv1.HTTPHeaderFilter{
		"sets Host":              {Set: []gatewayv1.HTTPHeader{{Name: "Host", Value: "elsewhere"}}},
		"adds X-Forwarded-For":   {Add: []gatewayv1.HTTPHeader{{Name: "x-forwarded-for", Value: "1.2.3.4"}}},
		"removes Content-Length": {Remove: []string{"Content-Length"}},
		"value with a line feed": {Set: []gatewayv1.HTTPHeader{{Name: "X-A", Value: "a\r\nX-B: b"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, ok := build(f).Fields(); ok {
				t.Error("Fields says plain; want it left to net/http")
			}
		})
	}
}
