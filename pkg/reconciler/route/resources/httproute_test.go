package resources

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	apisconfig "flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/traffic"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

// revisions returns Revisions of the given timeouts, by name.
func revisions(timeouts map[string]int64) map[string]*v1.Revision {
	revs := map[string]*v1.Revision{}
	for name, seconds := range timeouts {
		rev := fwtesting.Revision(name, "demo")
		rev.Spec.TimeoutSeconds = ptr.To(seconds)
		revs[name] = rev
	}
	return revs
}

var (
	external = gatewayv1.ParentReference{
		Group: ptr.To(gatewayv1.Group("gateway.networking.k8s.io")), Kind: ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace("flywheel-system")), Name: "flywheel-external",
	}
	local = gatewayv1.ParentReference{
		Group: ptr.To(gatewayv1.Group("gateway.networking.k8s.io")), Kind: ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace("flywheel-system")), Name: "flywheel-local",
	}
	everything = gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{
		Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/"),
	}}
)

func tagged(tag string) gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{
		Path: everything.Path,
		Headers: []gatewayv1.HTTPHeaderMatch{{
			Type: ptr.To(gatewayv1.HeaderMatchExact), Name: "Knative-Serving-Tag", Value: tag,
		}},
	}
}

// to is a backendRef to the Service of revision in namespace demo, which
// tells the activator the Revision by its headers and keeps clients from
// posing as the activator.
func to(revision string, weight int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{
		BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{
				Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")),
				Name: gatewayv1.ObjectName(revision), Port: ptr.To[gatewayv1.PortNumber](80),
			},
			Weight: ptr.To(weight),
		},
		Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
				Set: []gatewayv1.HTTPHeader{
					{Name: "Knative-Serving-Revision", Value: revision},
					{Name: "Knative-Serving-Namespace", Value: "demo"},
				},
				Remove: []string{"K-Via-Activator"},
			},
		}},
	}
}

func timeout(d string) *gatewayv1.HTTPRouteTimeouts {
	return &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration(d))}
}

func httpRoute(route *v1.Route, host string, parent gatewayv1.ParentReference, rules ...gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	hostnames := []gatewayv1.Hostname{gatewayv1.Hostname(host)}
	if short, ok := strings.CutSuffix(host, ".svc.cluster.local"); ok {
		hostnames = append(hostnames, gatewayv1.Hostname(short+".svc"), gatewayv1.Hostname(short))
	}
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{
			Name:            host,
			Namespace:       route.Namespace,
			Labels:          map[string]string{"serving.knative.dev/route": route.Name},
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(route)},
		},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parent}},
			Hostnames:       hostnames,
			Rules:           rules,
		},
	}
}

func TestMakeHTTPRoutes(t *testing.T) {
	route := fwtesting.Route("hello", "demo")
	split := &traffic.Config{
		Targets: []traffic.Target{
			{RevisionName: "hello-00001", Percent: 70},
			{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Percent: 20, Tag: "next"},
			{RevisionName: "hello-00001", Tag: "stable", Percent: 10},
		},
		Revisions: revisions(map[string]int64{"hello-00001": 300, "hello-00002": 600}),
	}
	mainRules := []gatewayv1.HTTPRouteRule{{
		Matches:     []gatewayv1.HTTPRouteMatch{tagged("next")},
		BackendRefs: []gatewayv1.HTTPBackendRef{to("hello-00002", 100)},
		Timeouts:    timeout("600s"),
	}, {
		Matches:     []gatewayv1.HTTPRouteMatch{tagged("stable")},
		BackendRefs: []gatewayv1.HTTPBackendRef{to("hello-00001", 100)},
		Timeouts:    timeout("300s"),
	}, {
		Matches:     []gatewayv1.HTTPRouteMatch{everything},
		BackendRefs: []gatewayv1.HTTPBackendRef{to("hello-00001", 80), to("hello-00002", 20)},
		Timeouts:    timeout("600s"),
	}}
	only := func(rev string, seconds string) gatewayv1.HTTPRouteRule {
		return gatewayv1.HTTPRouteRule{
			Matches:     []gatewayv1.HTTPRouteMatch{everything},
			BackendRefs: []gatewayv1.HTTPBackendRef{to(rev, 100)},
			Timeouts:    timeout(seconds),
		}
	}

	tests := []struct {
		name   string
		route  *v1.Route
		tc     *traffic.Config
		config func(*config.Config)
		want   []*gatewayv1.HTTPRoute
	}{{
		name: "one Revision: its Service takes every request, with its timeout",
		tc: &traffic.Config{
			Targets:   []traffic.Target{{RevisionName: "hello-00001", ConfigurationName: "hello", LatestRevision: true, Percent: 100}},
			Revisions: revisions(map[string]int64{"hello-00001": 300}),
		},
		want: []*gatewayv1.HTTPRoute{
			httpRoute(route, "hello.demo.svc.cluster.local", local, only("hello-00001", "300s")),
			httpRoute(route, "hello.demo.example.com", external, only("hello-00001", "300s")),
		},
	}, {
		name: "a split with tags: weights, tag hosts and tag header rules",
		tc:   split,
		want: []*gatewayv1.HTTPRoute{
			httpRoute(route, "hello.demo.svc.cluster.local", local, mainRules...),
			httpRoute(route, "hello.demo.example.com", external, mainRules...),
			httpRoute(route, "next-hello.demo.svc.cluster.local", local, only("hello-00002", "600s")),
			httpRoute(route, "next-hello.demo.example.com", external, only("hello-00002", "600s")),
			httpRoute(route, "stable-hello.demo.svc.cluster.local", local, only("hello-00001", "300s")),
			httpRoute(route, "stable-hello.demo.example.com", external, only("hello-00001", "300s")),
		},
	}, {
		name:   "tag header routing off: the main hosts only split",
		tc:     split,
		config: func(c *config.Config) { c.Features.TagHeaderBasedRouting = apisconfig.Disabled },
		want: []*gatewayv1.HTTPRoute{
			httpRoute(route, "hello.demo.svc.cluster.local", local, mainRules[2]),
			httpRoute(route, "hello.demo.example.com", external, mainRules[2]),
			httpRoute(route, "next-hello.demo.svc.cluster.local", local, only("hello-00002", "600s")),
			httpRoute(route, "next-hello.demo.example.com", external, only("hello-00002", "600s")),
			httpRoute(route, "stable-hello.demo.svc.cluster.local", local, only("hello-00001", "300s")),
			httpRoute(route, "stable-hello.demo.example.com", external, only("hello-00001", "300s")),
		},
	}, {
		name: "a 0% target is left out of the split but keeps its tag host",
		tc: &traffic.Config{
			Targets: []traffic.Target{
				{RevisionName: "hello-00001", Percent: 100},
				{RevisionName: "hello-00002", Tag: "preview"},
			},
			Revisions: revisions(map[string]int64{"hello-00001": 300, "hello-00002": 300}),
		},
		config: func(c *config.Config) { c.Features.TagHeaderBasedRouting = apisconfig.Disabled },
		want: []*gatewayv1.HTTPRoute{
			httpRoute(route, "hello.demo.svc.cluster.local", local, only("hello-00001", "300s")),
			httpRoute(route, "hello.demo.example.com", external, only("hello-00001", "300s")),
			httpRoute(route, "preview-hello.demo.svc.cluster.local", local, only("hello-00002", "300s")),
			httpRoute(route, "preview-hello.demo.example.com", external, only("hello-00002", "300s")),
		},
	}, {
		name: "other Gateways from config-network",
		tc: &traffic.Config{
			Targets:   []traffic.Target{{RevisionName: "hello-00001", Percent: 100}},
			Revisions: revisions(map[string]int64{"hello-00001": 300}),
		},
		config: func(c *config.Config) {
			c.Network.ExternalGateway.Name = "public"
			c.Network.ClusterLocalGateway.Namespace = "mesh"
		},
		want: func() []*gatewayv1.HTTPRoute {
			pub, loc := *external.DeepCopy(), *local.DeepCopy()
			pub.Name = "public"
			loc.Namespace = ptr.To(gatewayv1.Namespace("mesh"))
			return []*gatewayv1.HTTPRoute{
				httpRoute(route, "hello.demo.svc.cluster.local", loc, only("hello-00001", "300s")),
				httpRoute(route, "hello.demo.example.com", pub, only("hello-00001", "300s")),
			}
		}(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := route
			if tt.route != nil {
				r = tt.route
			}
			cfg := defaultConfig()
			if tt.config != nil {
				tt.config(cfg)
			}
			got, err := MakeHTTPRoutes(r, tt.tc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MakeHTTPRoutes (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestMakeHTTPRoutesRefusesMoreTagRulesThanFit(t *testing.T) {
	tc := &traffic.Config{Revisions: revisions(map[string]int64{"hello-00001": 300})}
	for _, tag := range strings.Fields("a b c d e f g h i j k l m n o p") {
		tc.Targets = append(tc.Targets, traffic.Target{RevisionName: "hello-00001", Tag: tag, Percent: 100 / 16})
	}
	_, err := MakeHTTPRoutes(fwtesting.Route("hello", "demo"), tc, defaultConfig())
	if err == nil || !strings.Contains(err.Error(), apisconfig.FeatureTagHeaderBasedRouting) {
		t.Errorf("MakeHTTPRoutes with 16 tags: error %v, want one naming %s", err, apisconfig.FeatureTagHeaderBasedRouting)
	}
}

func TestDuration(t *testing.T) {
	for seconds, want := range map[int64]gatewayv1.Duration{
		1:      "1s",
		300:    "300s",
		99999:  "99999s",
		100000: "27h46m40s",
		108000: "30h",
		108060: "30h1m",
	} {
		if got := Duration(seconds); got != want {
			t.Errorf("Duration(%d) = %q, want %q", seconds, got, want)
		}
	}
}

// TestClusterLocalHostnames: inside the cluster a Route is reached by the
// short names a pod's DNS search path completes, <route>.<namespace> and
// <route>.<namespace>.svc, as well as the full one; the Host header keeps
// the name the client used, so the cluster-local HTTPRoute must match all
// three. Public hosts have one name only.
func TestClusterLocalHostnames(t *testing.T) {
	tc := &traffic.Config{
		Targets: []traffic.Target{
			{RevisionName: "hello-00001", Percent: 100},
			{RevisionName: "hello-00001", Tag: "blue"},
		},
		Revisions: revisions(map[string]int64{"hello-00001": 300}),
	}
	cfg := defaultConfig()
	cfg.Features.TagHeaderBasedRouting = apisconfig.Disabled
	routes, err := MakeHTTPRoutes(fwtesting.Route("hello", "demo"), tc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]gatewayv1.Hostname{}
	for _, hr := range routes {
		got[hr.Name] = hr.Spec.Hostnames
	}
	want := map[string][]gatewayv1.Hostname{
		"hello.demo.svc.cluster.local":      {"hello.demo.svc.cluster.local", "hello.demo.svc", "hello.demo"},
		"hello.demo.example.com":            {"hello.demo.example.com"},
		"blue-hello.demo.svc.cluster.local": {"blue-hello.demo.svc.cluster.local", "blue-hello.demo.svc", "blue-hello.demo"},
		"blue-hello.demo.example.com":       {"blue-hello.demo.example.com"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hostnames by HTTPRoute (-want, +got):\n%s", diff)
	}
}
