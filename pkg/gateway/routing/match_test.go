package routing_test

import (
	"net/http/httptest"
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/routing"
)

// matched returns the name of the first backend of the rule that serves
// a request, "" for no rule.
func matched(t *routing.Table, method, host, target string, header ...string) string {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	rule := t.Lookup(r)
	if rule == nil {
		return ""
	}
	return rule.Backends[0].Name
}

func svc(name string) string { return gt.Namespace + "/" + name + ":80" }

func TestLookupPrecedence(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	routes := []*gatewayv1.HTTPRoute{
		gt.HTTPRoute("foo", "gw", gt.WithHostnames("foo.example.com"),
			// Written in the reverse of precedence order, so that the
			// order of rules cannot be what decides.
			gt.WithRule(gt.Rule(nil, gt.Backend("root", 80, 1))),
			gt.WithRule(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.WithHeader(gt.PathPrefix("/"), "X-Tag", "blue")}, gt.Backend("blue", 80, 1))),
			gt.WithRule(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.WithMethod(gt.PathPrefix("/"), "POST")}, gt.Backend("post", 80, 1))),
			gt.WithRule(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/api")}, gt.Backend("api", 80, 1))),
			gt.WithRule(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/api/v2/")}, gt.Backend("apiv2", 80, 1))),
			gt.WithRule(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.Exact("/api")}, gt.Backend("exact", 80, 1))),
		),
		gt.HTTPRoute("wild", "gw", gt.WithHostnames("*.example.com"), gt.WithRule(gt.Rule(nil, gt.Backend("wild", 80, 1)))),
		gt.HTTPRoute("deep", "gw", gt.WithHostnames("*.deep.example.com"), gt.WithRule(gt.Rule(nil, gt.Backend("deep", 80, 1)))),
		gt.HTTPRoute("any", "gw", gt.WithRule(gt.Rule(nil, gt.Backend("any", 80, 1)))),
		// Same host and match: the older route wins over the name that
		// sorts first; between equal ages the name decides.
		gt.HTTPRoute("a-newer", "gw", gt.WithHostnames("tie.example.com"), gt.WithCreated(base.Add(time.Hour)),
			gt.WithRule(gt.Rule(nil, gt.Backend("newer", 80, 1)))),
		gt.HTTPRoute("z-older", "gw", gt.WithHostnames("tie.example.com"), gt.WithCreated(base),
			gt.WithRule(gt.Rule(nil, gt.Backend("older", 80, 1)))),
		gt.HTTPRoute("b-same", "gw", gt.WithHostnames("same.example.com"), gt.WithRule(gt.Rule(nil, gt.Backend("b", 80, 1)))),
		gt.HTTPRoute("a-same", "gw", gt.WithHostnames("same.example.com"), gt.WithRule(gt.Rule(nil, gt.Backend("a", 80, 1)))),
	}
	table := routing.Build(gt.Objects{Routes: routes}.Input(gt.Gateway("gw"), nil)).Table

	for _, tc := range []struct {
		name, method, host, target string
		header                     []string
		want                       string
	}{
		{name: "Exact path beats a prefix of the same length", host: "foo.example.com", target: "/api", want: svc("exact")},
		{name: "prefix matches its segment with a slash", host: "foo.example.com", target: "/api/", want: svc("api")},
		{name: "prefix matches below its segment", host: "foo.example.com", target: "/api/users", want: svc("api")},
		{name: "prefix does not match a longer segment", host: "foo.example.com", target: "/apix", want: svc("root")},
		{name: "longest prefix wins", host: "foo.example.com", target: "/api/v2/users", want: svc("apiv2")},
		{name: "a prefix written with a trailing slash matches the bare segment", host: "foo.example.com", target: "/api/v2", want: svc("apiv2")},
		{name: "a prefix does not match a segment it only starts", host: "foo.example.com", target: "/api/v21", want: svc("api")},
		{name: "method match beats header match", method: "POST", host: "foo.example.com", target: "/", header: []string{"X-Tag", "blue"}, want: svc("post")},
		{name: "header match beats none", host: "foo.example.com", target: "/", header: []string{"x-tag", "blue"}, want: svc("blue")},
		{name: "header value is exact", host: "foo.example.com", target: "/", header: []string{"X-Tag", "Blue"}, want: svc("root")},
		{name: "host is case-insensitive, port stripped", host: "FOO.Example.COM:8080", target: "/", want: svc("root")},
		{name: "host with a trailing dot", host: "foo.example.com.", target: "/", want: svc("root")},
		{name: "wildcard matches one label", host: "bar.example.com", target: "/", want: svc("wild")},
		{name: "wildcard matches several labels", host: "a.b.example.com", target: "/", want: svc("wild")},
		{name: "longer wildcard wins", host: "x.deep.example.com", target: "/", want: svc("deep")},
		{name: "wildcard does not match its bare suffix", host: "example.com", target: "/", want: svc("any")},
		{name: "a route without hostnames takes other hosts", host: "other.org", target: "/", want: svc("any")},
		{name: "exact host claimed: no fall-through to the wildcard", host: "foo.example.com", target: "/x", want: svc("root")},
		{name: "the oldest route wins a tie", host: "tie.example.com", target: "/", want: svc("older")},
		{name: "then the route whose namespace/name sorts first", host: "same.example.com", target: "/", want: svc("a")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			if got := matched(table, method, tc.host, tc.target, tc.header...); got != tc.want {
				t.Errorf("%s %s%s went to %q, want %q", method, tc.host, tc.target, got, tc.want)
			}
		})
	}
}

func TestLookupNoMatch(t *testing.T) {
	routes := []*gatewayv1.HTTPRoute{
		gt.HTTPRoute("foo", "gw", gt.WithHostnames("foo.example.com"),
			gt.WithRule(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/app")}, gt.Backend("app", 80, 1)))),
		gt.HTTPRoute("elsewhere", "other-gateway", gt.WithHostnames("bar.example.com"),
			gt.WithRule(gt.Rule(nil, gt.Backend("bar", 80, 1)))),
	}
	table := routing.Build(gt.Objects{Routes: routes}.Input(gt.Gateway("gw"), nil)).Table
	for _, tc := range []struct{ name, host, target string }{
		{"unknown host", "nope.example.com", "/app"},
		{"known host, no matching path", "foo.example.com", "/"},
		{"host of a route of another Gateway", "bar.example.com", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matched(table, "GET", tc.host, tc.target); got != "" {
				t.Errorf("went to %q, want no match", got)
			}
		})
	}
	if got := (*routing.Table)(nil).Lookup(httptest.NewRequest("GET", "/", nil)); got != nil {
		t.Errorf("a nil table matched %v", got)
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM":      "example.com",
		"example.com:8080": "example.com",
		"example.com.":     "example.com",
		"[::1]:80":         "::1",
		"[::1]":            "::1",
		"10.0.0.1:80":      "10.0.0.1",
	} {
		if got := routing.NormalizeHost(in); got != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}
