package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
	"flywheel.dev/pkg/gateway/routing"
)

// seen is what a backend received of one request.
type seen struct {
	Method, Host, URI string
	Header            http.Header
	Body              string
}

// recorder is a backend that notes each request and answers with its
// name.
type recorder struct {
	mu   sync.Mutex
	last seen
}

func (rec *recorder) handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.last = seen{Method: r.Method, Host: r.Host, URI: r.RequestURI, Header: r.Header.Clone(), Body: string(b)}
		rec.mu.Unlock()
		w.Header().Set("X-App", name)
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("X-Served-By", "the-app")
		_, _ = io.WriteString(w, name)
	}
}

func (rec *recorder) lastSeen() seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.last
}

// twoGateways serves the same table on each path.
type twoGateways struct{ net, fast *gateway }

func newTwoGateways(t *testing.T, opts proxy.Options) twoGateways {
	return twoGateways{net: newGateway(t, netHTTPPath, opts, nil), fast: newGateway(t, fastPath, opts, nil)}
}

func (g twoGateways) route(rule gatewayv1.HTTPRouteRule, backends ...backend) {
	g.net.route(rule, backends...)
	g.fast.route(rule, backends...)
}

func TestFastPathForwardsAsNetHTTP(t *testing.T) {
	rec := &recorder{}
	app := newBackend(t, "app", rec.handler("app"))
	g := newTwoGateways(t, proxy.Options{})
	rule := gt.Rule(nil, gt.Backend("app", 80, 1))
	rule.Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set:    []gatewayv1.HTTPHeader{{Name: "knative-serving-revision", Value: "from-the-rule"}, {Name: "X-Rule", Value: "rule"}},
			Add:    []gatewayv1.HTTPHeader{{Name: "X-Added", Value: "by-the-rule"}, {Name: "X-Kept", Value: "by-the-rule"}},
			Remove: []string{"X-Secret"},
		},
	}, {
		Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set:    []gatewayv1.HTTPHeader{{Name: "X-Served-By", Value: "the-rule"}},
			Add:    []gatewayv1.HTTPHeader{{Name: "X-App", Value: "added"}},
			Remove: []string{"X-Internal"},
		},
	}}
	// The backend's filter runs after the rule's: it replaces what the
	// rule set and removes what the rule added.
	rule.BackendRefs[0].Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set:    []gatewayv1.HTTPHeader{{Name: "Knative-Serving-Revision", Value: "rev"}, {Name: "Knative-Serving-Namespace", Value: "demo"}},
			Remove: []string{"x-rule"},
		},
	}, {
		Type:                   gatewayv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Served-By", Value: "app"}}},
	}}
	g.route(rule, app)

	for _, tc := range []struct {
		name, method, target, body string
		header                     http.Header
	}{
		{name: "plain GET", method: "GET", target: "/path?q=1"},
		{name: "POST with a body", method: "POST", target: "/submit", body: "payload"},
		{name: "prior hops and client fields", method: "GET", target: "/", header: http.Header{
			"X-Forwarded-For":          {"203.0.113.7", "198.51.100.1"},
			"X-Forwarded-Host":         {"spoofed.example.com"},
			"X-Forwarded-Proto":        {"https"},
			"Forwarded":                {"for=203.0.113.7"},
			"Knative-Serving-Revision": {"from-the-client"},
			"X-Secret":                 {"s"},
			"X-Kept":                   {"a", "b"},
			"Traceparent":              {callerTraceparent},
		}},
		{name: "percent-encoded path", method: "GET", target: "/a%20b/%7Euser?x=%41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]seen
			var answered [2]http.Header
			for i, gw := range []*gateway{g.net, g.fast} {
				req, err := http.NewRequestWithContext(t.Context(), tc.method, gw.url+tc.target, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host + ":8080"
				for k, vs := range tc.header {
					req.Header[k] = vs
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(b) != "app" {
					t.Fatalf("%s: got %d %q, want 200 app", gw.url, resp.StatusCode, b)
				}
				got[i] = rec.lastSeen()
				answered[i] = resp.Header.Clone()
				delete(answered[i], "Date")
			}
			if diff := cmp.Diff(got[0], got[1]); diff != "" {
				t.Errorf("what the backend saw (-net/http, +fast path):\n%s", diff)
			}
			if diff := cmp.Diff(answered[0], answered[1]); diff != "" {
				t.Errorf("the response's fields (-net/http, +fast path):\n%s", diff)
			}
			if v := answered[1].Values("X-App"); len(v) != 2 || v[0] != "app" || v[1] != "added" {
				t.Errorf("the client got X-App %q, want the backend's, then the filter's", v)
			}
			if v := got[1].Header.Get("Knative-Serving-Revision"); v != "rev" {
				t.Errorf("the backend saw Knative-Serving-Revision %q, want the backend filter's rev", v)
			}
		})
	}
	poll(t, "the fast path has served all 4 requests", func() bool { return g.fast.fastServed.Load() == 4 })
}

func TestFastPathMatchesAsNetHTTP(t *testing.T) {
	names := []string{"root", "header", "query", "method", "exact"}
	backends := map[string]backend{}
	for _, name := range names {
		backends[name] = newBackend(t, name, text(name))
	}
	match := func(m gatewayv1.HTTPRouteMatch, name string) gatewayv1.HTTPRouteRule {
		return gt.Rule([]gatewayv1.HTTPRouteMatch{m}, gt.Backend(name, 80, 1))
	}
	routeRules := []gatewayv1.HTTPRouteRule{
		gt.Rule(nil, gt.Backend("root", 80, 1)),
		match(gt.WithHeader(gt.PathPrefix("/"), "X-Tag", "blue"), "header"),
		match(gatewayv1.HTTPRouteMatch{Path: gt.PathPrefix("/").Path, QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "v", Value: "2"}}}, "query"),
		match(gt.WithMethod(gt.PathPrefix("/"), "PUT"), "method"),
		match(gt.Exact("/a b"), "exact"),
	}
	opts := []func(*gatewayv1.HTTPRoute){gt.WithHostnames(host)}
	for _, r := range routeRules {
		opts = append(opts, gt.WithRule(r))
	}
	objs := gt.Objects{Routes: []*gatewayv1.HTTPRoute{gt.HTTPRoute("r", "gw", opts...)}}
	for _, name := range names {
		objs.Services = append(objs.Services, backends[name].service)
		objs.Slices = append(objs.Slices, backends[name].slice)
	}
	g := newTwoGateways(t, proxy.Options{})
	for _, gw := range []*gateway{g.net, g.fast} {
		gw.table.Store(routing.Build(objs.Input(gt.Gateway("gw"), gw.pool)).Table)
	}

	for _, tc := range []struct {
		method, target string
		header         http.Header
		want           string
	}{
		{"GET", "/", nil, "root"},
		{"GET", "/", http.Header{"X-Tag": {"blue"}}, "header"},
		{"GET", "/", http.Header{"x-tag": {"Blue"}}, "root"},
		{"GET", "/", http.Header{"X-Tag": {"blue", "green"}}, "root"},
		{"GET", "/?v=2", nil, "query"},
		{"GET", "/?v=2&v=3", nil, "query"},
		{"GET", "/?v=3&v=2", nil, "root"},
		{"PUT", "/", nil, "method"},
		{"GET", "/a%20b", nil, "exact"},
		{"GET", "/a%20b/", nil, "root"},
	} {
		t.Run(fmt.Sprintf("%s %s %v", tc.method, tc.target, tc.header), func(t *testing.T) {
			for _, gw := range []*gateway{g.net, g.fast} {
				req, err := http.NewRequestWithContext(t.Context(), tc.method, gw.url+tc.target, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				for k, vs := range tc.header {
					req.Header[k] = vs
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if string(b) != tc.want {
					t.Errorf("%s: went to %q, want %q", gw.url, b, tc.want)
				}
			}
		})
	}
	poll(t, "the fast path has served all 10 requests", func() bool { return g.fast.fastServed.Load() == 10 })
}

func TestFastPathDeclinesWhatItCannotForwardAlike(t *testing.T) {
	plain := newBackend(t, "plain", text("plain"))
	h2c := newBackend(t, "h2c", text("h2c"), gt.H2C)
	for _, tc := range []struct {
		name   string
		rule   func() gatewayv1.HTTPRouteRule
		header http.Header
	}{
		{name: "a backend of the rule speaks h2c", rule: func() gatewayv1.HTTPRouteRule {
			return gt.Rule(nil, gt.Backend("plain", 80, 1), gt.Backend("h2c", 80, 1))
		}},
		{name: "a filter on a field the proxy writes", rule: func() gatewayv1.HTTPRouteRule {
			r := gt.Rule(nil, gt.Backend("plain", 80, 1))
			r.Filters = []gatewayv1.HTTPRouteFilter{{
				Type:                  gatewayv1.HTTPRouteFilterRequestHeaderModifier,
				RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Forwarded-Proto", Value: "https"}}},
			}}
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, fastPath, proxy.Options{}, nil)
			g.route(tc.rule(), plain, h2c)
			req, err := http.NewRequestWithContext(t.Context(), "GET", g.url+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			for k, vs := range tc.header {
				req.Header[k] = vs
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200 from net/http", resp.StatusCode)
			}
			if n := g.fastServed.Load(); n != 0 {
				t.Errorf("the fast path served %d requests, want them declined to net/http", n)
			}
		})
	}
}

func TestFastPathRetriesAndCountsInFlight(t *testing.T) {
	rec := &recorder{}
	app := newBackend(t, "app", rec.handler("app"))
	dead := deadAddress(t)
	deadSlice := gt.EndpointSlice("app", dead)
	deadSlice.Name = "app-dead"
	d := &countingDial{dead: map[string]bool{dead: true}, attempts: map[string]int{}}
	g := newGateway(t, fastPath, proxy.Options{Dial: d.dial}, nil)
	g.route(gt.Rule(nil, gt.Backend("app", 80, 1)), app, backend{service: app.service, slice: deadSlice})
	const n = 20
	for i := range n {
		body := fmt.Sprintf("request %d", i)
		if code, got, _ := g.do(t, nil, "POST", "/", strings.NewReader(body)); code != 200 || got != "app" || rec.lastSeen().Body != body {
			t.Fatalf("request %d: %d %q, backend saw %q; want 200 and the body delivered", i, code, got, rec.lastSeen().Body)
		}
	}
	d.mu.Lock()
	tried := d.attempts[dead]
	d.mu.Unlock()
	if tried == 0 {
		t.Errorf("the dead endpoint was never tried in %d requests; the test shows nothing", n)
	}
	poll(t, "the fast path has served all 20 requests", func() bool { return g.fastServed.Load() == n })
	g.table.Load().EachEndpoint(func(ep *routing.Endpoint) {
		if f := ep.InFlight(); f != 0 {
			t.Errorf("endpoint %s has %d requests in flight after all ended, want 0", ep.Address, f)
		}
	})
}
