package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/resources"
	"flywheel.dev/pkg/reconciler/route/traffic"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

// routeHTTPRoutes are the HTTPRoutes the Route reconciler makes for a
// Route hello in namespace sending to targets.
func routeHTTPRoutes(t *testing.T, namespace string, targets ...traffic.Target) []*gatewayv1.HTTPRoute {
	t.Helper()
	revs := map[string]*v1.Revision{}
	for _, target := range targets {
		rev := fwtesting.Revision(target.RevisionName, namespace)
		rev.Spec.TimeoutSeconds = ptr.To[int64](300)
		revs[target.RevisionName] = rev
	}
	cfg := &config.Config{Network: apisconfig.DefaultNetwork(), Domain: apisconfig.DefaultDomainConfig(), Features: apisconfig.DefaultFeatures()}
	hrs, err := resources.MakeHTTPRoutes(fwtesting.Route("hello", namespace), &traffic.Config{Targets: targets, Revisions: revs}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hrs
}

// indexedRoute indexes the HTTPRoutes of a Route hello in demo splitting
// 70/30 between two Revisions, the second tagged next.
func indexedRoute(t *testing.T) *routeIndex {
	t.Helper()
	x := newRouteIndex()
	for _, hr := range routeHTTPRoutes(t, "demo",
		traffic.Target{RevisionName: "hello-00001", Percent: 70},
		traffic.Target{RevisionName: "hello-00002", Percent: 30, Tag: "next"}) {
		x.set(hr)
	}
	return x
}

var (
	first  = types.NamespacedName{Namespace: "demo", Name: "hello-00001"}
	second = types.NamespacedName{Namespace: "demo", Name: "hello-00002"}
)

func TestRouteIndexPicksTheRevisionOfAHost(t *testing.T) {
	x := indexedRoute(t)
	none := func(types.NamespacedName) bool { return false }
	onlySecond := func(k types.NamespacedName) bool { return k == second }
	tests := []struct {
		name   string
		host   string
		tag    string
		inPath func(types.NamespacedName) bool
		want   []types.NamespacedName // any of them
	}{
		{name: "a tag's host", host: "next-hello.demo.example.com", inPath: none, want: []types.NamespacedName{second}},
		{name: "a tag's cluster-local host, with a port", host: "next-hello.demo.svc.cluster.local:80", inPath: none, want: []types.NamespacedName{second}},
		{name: "the main host with the tag header", host: "hello.demo.example.com", tag: "next", inPath: none, want: []types.NamespacedName{second}},
		{name: "the main host, upper case, one Revision in the activator's path", host: "Hello.Demo.Example.Com", inPath: onlySecond, want: []types.NamespacedName{second}},
		{name: "a short cluster-local name, one in the path", host: "hello.demo", inPath: onlySecond, want: []types.NamespacedName{second}},
		{name: "the main host, none in the path: either, by weight", host: "hello.demo.svc", inPath: none, want: []types.NamespacedName{first, second}},
		{name: "an unknown tag is the main split", host: "hello.demo.example.com", tag: "nope", inPath: onlySecond, want: []types.NamespacedName{second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := x.revisionFor(tc.host, tc.tag, tc.inPath)
			if !ok {
				t.Fatalf("no Revision for host %q", tc.host)
			}
			found := false
			for _, w := range tc.want {
				found = found || got == w
			}
			if !found {
				t.Errorf("got %s, want one of %v", got, tc.want)
			}
		})
	}
	if got, ok := x.revisionFor("other.demo.example.com", "", none); ok {
		t.Errorf("an unknown host gave %s", got)
	}
}

// TestRouteIndexWeighs picks by the rule's weights among the Revisions in
// the activator's path: 70/30 when both are.
func TestRouteIndexWeighs(t *testing.T) {
	x := indexedRoute(t)
	both := func(types.NamespacedName) bool { return true }
	counts := map[types.NamespacedName]int{}
	const n = 10000
	for range n {
		got, _ := x.revisionFor("hello.demo.example.com", "", both)
		counts[got]++
	}
	// 70% of 10,000 has a standard deviation of about 46.
	if c := counts[first]; c < 6700 || c > 7300 {
		t.Errorf("the 70%% Revision got %d of %d requests", c, n)
	}
}

func TestRouteIndexForgets(t *testing.T) {
	x := indexedRoute(t)
	hrs := []string{}
	for key := range x.hostsOf {
		hrs = append(hrs, key.Name)
		x.forget(key)
	}
	if len(hrs) == 0 || len(x.byHost) != 0 {
		t.Errorf("after forgetting %v the index still holds %d hosts", hrs, len(x.byHost))
	}
}

// TestARequestWithoutHeadersFindsItsRevisionByHost: a gateway that did
// not apply the HTTPRoute's backendRef filter sends the request without
// the Revision's headers; its host names it.
func TestARequestWithoutHeadersFindsItsRevisionByHost(t *testing.T) {
	forEachPath(t, func(t *testing.T, path servePath) {
		var objs []runtime.Object
		for _, hr := range routeHTTPRoutes(t, testNamespace, traffic.Target{RevisionName: "hello-00001", Percent: 100}) {
			objs = append(objs, hr)
		}
		e := startActivator(t, path, Config{Gateway: gatewayfake.NewSimpleClientset(objs...)})
		key := e.addRevision("hello-00001", 0, 300)
		e.setPods(key, startApp(t, "pod", 0).addr())
		// Readiness does not wait for the HTTPRoutes (watchHTTPRoutes).
		waitFor(t, "the HTTPRoutes to be indexed", func() bool {
			_, ok := e.a.handler.routes.revisionFor("hello.default.example.com", "", e.a.registry.inPath)
			return ok
		})
		get := func(host string) (int, string) {
			req, err := http.NewRequest(http.MethodGet, e.url+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		if code, body := get("hello.default.example.com"); code != http.StatusOK || !strings.HasPrefix(body, "pod") {
			t.Errorf("request for the Route's host without headers: %d %q, want 200 from its Revision's pod", code, body)
		}
		if code, body := get("hello.default.svc:80"); code != http.StatusOK || !strings.HasPrefix(body, "pod") {
			t.Errorf("request for the Route's short cluster-local host: %d %q, want 200", code, body)
		}
		if code, body := get("other.default.example.com"); code != http.StatusBadRequest || !strings.Contains(body, serving.RevisionHeader) {
			t.Errorf("request for a host no Route has: %d %q, want 400 naming %s", code, body, serving.RevisionHeader)
		}
	})
}
