package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
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
	b.Run("gateway", func(b *testing.B) {
		g := newGateway(b, proxy.Options{}, nil)
		g.route(gt.Rule([]gatewayv1.HTTPRouteMatch{gt.PathPrefix("/")}, gt.Backend("app", 80, 1)), app)
		forward(b, g.url)
	})
	b.Run("reverseproxy", func(b *testing.B) {
		target, err := url.Parse(server.URL)
		if err != nil {
			b.Fatal(err)
		}
		s := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
		b.Cleanup(s.Close)
		forward(b, s.URL)
	})
}

func forward(b *testing.B, target string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, target+"/", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
