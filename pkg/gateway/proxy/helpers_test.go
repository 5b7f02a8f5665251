package proxy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/proxy"
	"flywheel.dev/pkg/gateway/routing"
	"flywheel.dev/pkg/network/http1"
)

const host = "app.example.com"

// backend is a Service of the test: its objects and its servers.
type backend struct {
	service *corev1.Service
	slice   *discoveryv1.EndpointSlice
}

// newBackend serves handler on loopback as Service name, with one
// endpoint.
func newBackend(t testing.TB, name string, handler http.Handler, opts ...func(*corev1.Service)) backend {
	t.Helper()
	s := httptest.NewUnstartedServer(handler)
	// Like a revision's pod, the backend takes HTTP/1.1 and h2c.
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &p
	s.Start()
	t.Cleanup(s.Close)
	return backend{service: gt.Service(name, 80, 8080, opts...), slice: gt.EndpointSlice(name, s.Listener.Addr().String())}
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// gateway is a proxy under test, serving a table the test can swap.
type gateway struct {
	table atomic.Pointer[routing.Table]
	pool  *routing.EndpointPool
	url   string
	// fastServed counts the requests the fast path answered itself.
	fastServed atomic.Int64
}

// servePath is how a gateway under test takes its requests: through
// net/http alone, or through the HTTP/1.1 fast path in front of it, as
// the gateway process serves them.
type servePath struct {
	name string
	fast bool
}

var (
	netHTTPPath = servePath{name: "net/http"}
	fastPath    = servePath{name: "fast path", fast: true}
)

// forEachPath runs test against a gateway on each path: what a client
// sees must not depend on which one served it.
func forEachPath(t *testing.T, test func(t *testing.T, path servePath)) {
	t.Helper()
	for _, path := range []servePath{netHTTPPath, fastPath} {
		t.Run(path.name, func(t *testing.T) { test(t, path) })
	}
}

func newGateway(t testing.TB, path servePath, opts proxy.Options, configure func(*http.Server)) *gateway {
	t.Helper()
	g := &gateway{pool: routing.NewEndpointPool()}
	opts.Table = g.table.Load
	p := proxy.New(opts)
	if !path.fast {
		s := httptest.NewUnstartedServer(p)
		if configure != nil {
			configure(s.Config)
		}
		s.Start()
		t.Cleanup(s.Close)
		g.url = s.URL
		return g
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	if configure != nil {
		configure(srv)
	}
	fast := http1.NewServer(http1.HandlerFunc(func(x *http1.Exchange) {
		p.ServeHTTP1(x)
		if x.Status() != 0 {
			g.fastServed.Add(1)
		}
	}), http1.Options{})
	done := make(chan struct{}, 2)
	go func() { _ = fast.Serve(ln); done <- struct{}{} }()
	go func() { _ = srv.Serve(fast.Declined()); done <- struct{}{} }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = fast.Shutdown(ctx)
		_ = srv.Close()
		p.CloseIdleConnections()
		<-done
		<-done
	})
	g.url = "http://" + ln.Addr().String()
	return g
}

// route installs a table with one HTTPRoute for host whose rule is rule,
// over the backends' objects.
func (g *gateway) route(rule gatewayv1.HTTPRouteRule, backends ...backend) {
	objs := gt.Objects{Routes: []*gatewayv1.HTTPRoute{gt.HTTPRoute("r", "gw", gt.WithHostnames(host), gt.WithRule(rule))}}
	for _, b := range backends {
		objs.Services = append(objs.Services, b.service)
		if b.slice != nil {
			objs.Slices = append(objs.Slices, b.slice)
		}
	}
	g.table.Store(routing.Build(objs.Input(gt.Gateway("gw"), g.pool)).Table)
}

// do sends a request for host through the gateway and returns the status
// and body.
func (g *gateway) do(t *testing.T, client *http.Client, method, path string, body io.Reader) (int, string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, g.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func text(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, s) }
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s %q does not say %q", what, got, w)
		}
	}
}

// poll waits up to 5 s for cond, checking every few milliseconds: the
// client has its answer just before the gateway is done with a request.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
