package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"flywheel.dev/pkg/gateway"
	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/status"
	"flywheel.dev/pkg/network/listentest"
)

// TestRequestsAtStartAreAnsweredByTheirRoute starts the gateway while the
// API server is slow to list the EndpointSlices, as after a restart under
// load, and sends requests meanwhile: each must be held until the routes
// are loaded and then answered by its route, never with a 503 or 404 that
// only says the gateway is starting; and /readyz fails until then.
func TestRequestsAtStartAreAnsweredByTheirRoute(t *testing.T) {
	kube := kubefake.NewClientset(gt.Service("a", 80, 8080), gt.EndpointSlice("a", serveText(t, "a")),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gt.Namespace}})
	gws := gatewayfake.NewSimpleClientset(gt.GatewayClass(gt.ClassName, status.ControllerName),
		gt.HTTPRoute("hello", "gw", gt.WithHostnames(host), gt.WithRule(gt.Rule(nil, gt.Backend("a", 80, 1)))))
	if _, err := gws.GatewayV1().Gateways(gt.Namespace).Create(t.Context(), gt.Gateway("gw"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	held := listentest.HoldList(t, &kube.Fake, "endpointslices")

	gwKey := types.NamespacedName{Namespace: gt.Namespace, Name: "gw"}
	g, err := gateway.New(gateway.Config{
		Kube: kube, GatewayAPI: gws,
		Listen:       map[types.NamespacedName]string{gwKey: "127.0.0.1:0"},
		AdminAddress: "127.0.0.1:0", DrainWindow: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		held.Release()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	readyz := "http://" + g.AdminAddr().String() + "/readyz"

	<-held.Listing()
	if code, body, err := get(readyz); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the routes load: %d %q (%v), want 503", code, body, err)
	}
	const clients = 10
	answers := listentest.SendAll("http://"+g.Addr(gwKey).String()+"/", host, nil, clients)
	// Not one may be accepted, let alone answered, before the routes are
	// loaded: each waits in the listener's backlog.
	waitFor(t, "the connections held unaccepted", func() bool {
		return len(answers) > 0 || listentest.HeldConnections(t, g.Addr(gwKey).String()) == clients
	})
	if len(answers) > 0 {
		t.Fatalf("a request sent while the routes loaded was answered before they were: %q", <-answers)
	}
	held.Release()

	var got []string
	for range clients {
		got = append(got, <-answers)
	}
	want := make([]string, clients)
	for i := range want {
		want[i] = "200 a"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers to the requests sent while the gateway started (-want, +got):\n%s", diff)
	}
	waitFor(t, "the gateway ready", func() bool { code, _, _ := get(readyz); return code == http.StatusOK })
}

// TestStoppedBeforeItsRoutesLoadTheGatewayServesNothing stops the gateway
// while it waits for the API server: with nothing served there is nothing
// to drain, so Run returns without the drain window, and the listener,
// never served, is closed.
func TestStoppedBeforeItsRoutesLoadTheGatewayServesNothing(t *testing.T) {
	kube := kubefake.NewClientset()
	held := listentest.HoldList(t, &kube.Fake, "endpointslices")
	gwKey := types.NamespacedName{Namespace: gt.Namespace, Name: "gw"}
	g, err := gateway.New(gateway.Config{
		Kube: kube, GatewayAPI: gatewayfake.NewSimpleClientset(),
		Listen:       map[types.NamespacedName]string{gwKey: "127.0.0.1:0"},
		AdminAddress: "127.0.0.1:0", DrainWindow: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	<-held.Listing()
	cancel()
	// The fake, unlike an API server, does not end a list when its
	// caller gives up.
	held.Release()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when stopped before its routes loaded")
	}
	if code, body, err := get("http://" + g.Addr(gwKey).String() + "/"); err == nil {
		t.Errorf("the gateway answered %d %q after Run returned, want no connection", code, body)
	}
}

// TestDrainFinishesRequestsInFlight stops the gateway while a plain
// HTTP/1.1 request (the fast path's) waits for its backend: Run waits
// for it, and the client gets the whole answer.
func TestDrainFinishesRequestsInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	kube := kubefake.NewClientset(gt.Service("a", 80, 8080), gt.EndpointSlice("a", slow.Listener.Addr().String()),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gt.Namespace}})
	gws := gatewayfake.NewSimpleClientset(gt.GatewayClass(gt.ClassName, status.ControllerName),
		gt.HTTPRoute("hello", "gw", gt.WithHostnames(host), gt.WithRule(gt.Rule(nil, gt.Backend("a", 80, 1)))))
	if _, err := gws.GatewayV1().Gateways(gt.Namespace).Create(t.Context(), gt.Gateway("gw"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gwKey := types.NamespacedName{Namespace: gt.Namespace, Name: "gw"}
	g, err := gateway.New(gateway.Config{
		Kube: kube, GatewayAPI: gws,
		Listen:       map[types.NamespacedName]string{gwKey: "127.0.0.1:0"},
		AdminAddress: "127.0.0.1:0", DrainWindow: -1, ShutdownTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	type answer struct {
		code int
		body string
		err  error
	}
	answers := make(chan answer, 1)
	go func() {
		code, body, err := get("http://" + g.Addr(gwKey).String() + "/")
		answers <- answer{code, body, err}
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if a := <-answers; a.code != http.StatusOK || a.body != "slow" {
		t.Errorf("the request in flight got %d %q (%v), want 200 slow", a.code, a.body, a.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once the request in flight was answered")
	}
}
