package proxy_test

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
	"flywheel.dev/pkg/network/forward/forwardtest"
)

// BenchmarkForwarding sends requests one after another through the
// gateway's proxy and, for comparison, through a bare
// httputil.ReverseProxy, to the same loopback backend. Client, proxy and
// backend share the process, so only the difference between the two
// means something: what routing, header filters and the retrying
// transport cost per request, in time and allocations.
func BenchmarkForwarding(b *testing.B) {
	server := httptest.NewServer(text("hello"))
	b.Cleanup(server.Close)
	app := backend{service: gt.Service("app", 80, 8080), slice: gt.EndpointSlice("app", server.Listener.Addr().String())}
	for name, path := range map[string]servePath{"gateway": netHTTPPath, "gateway-fast": fastPath} {
		b.Run(name, func(b *testing.B) {
			g := newGateway(b, path, proxy.Options{}, nil)
			g.route(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/")}, gt.Backend("app", 80, 1)), app)
			forwardtest.SendAll(b, g.url, host, nil)
		})
	}
	b.Run("reverseproxy", func(b *testing.B) {
		target, err := url.Parse(server.URL)
		if err != nil {
			b.Fatal(err)
		}
		s := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
		b.Cleanup(s.Close)
		forwardtest.SendAll(b, s.URL, host, nil)
	})
}
