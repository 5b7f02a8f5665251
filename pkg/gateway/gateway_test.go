package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clientgotesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"flywheel.dev/pkg/gateway"
	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/pkg/gateway/status"
)

const host = "hello.demo.example.com"

func serveText(t *testing.T, body string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func get(url string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// accepted returns the generation at which our entry of hr's status says
// Accepted True, or 0.
func accepted(hr *gatewayv1.HTTPRoute) int64 {
	for _, p := range hr.Status.Parents {
		if p.ControllerName != status.ControllerName {
			continue
		}
		if c := meta.FindStatusCondition(p.Conditions, "Accepted"); c != nil && c.Status == metav1.ConditionTrue {
			return c.ObservedGeneration
		}
	}
	return 0
}

// TestStatusFollowsTheLiveTable runs the gateway against fake clients and
// checks, at the moment each HTTPRoute status is written, that requests
// already reach what that status claims is served: the Route reconciler
// reports a Service Ready on that status, so a request right after must
// not 404 or reach the old backend.
func TestStatusFollowsTheLiveTable(t *testing.T) {
	addrA, addrB := serveText(t, "a"), serveText(t, "b")
	sliceA, sliceB := gt.EndpointSlice("a", addrA), gt.EndpointSlice("b", addrB)
	kube := kubefake.NewClientset(gt.Service("a", 80, 8080), sliceA, gt.Service("b", 80, 8080), sliceB,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gt.Namespace}})

	route := gt.HTTPRoute("hello", "gw", gt.WithHostnames(host), gt.WithRule(gt.Rule(nil, gt.Backend("a", 80, 1))))
	// Another implementation's entry, which must survive our writes.
	route.Status.Parents = []gatewayv1.RouteParentStatus{{
		ParentRef: route.Spec.ParentRefs[0], ControllerName: "example.com/other",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "NotMine", LastTransitionTime: metav1.Now()}},
	}}
	// The simple fake: the field-managed one does not know the Gateway
	// resource of gateway-api v1.6.1, and the tracker files Gateways given
	// to the constructor under another version, so they are created.
	gws := gatewayfake.NewSimpleClientset(gt.GatewayClass(gt.ClassName, status.ControllerName), route)
	if _, err := gws.GatewayV1().Gateways(gt.Namespace).Create(t.Context(), gt.Gateway("gw"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	gwKey := types.NamespacedName{Namespace: gt.Namespace, Name: "gw"}
	g, err := gateway.New(gateway.Config{
		Kube: kube, GatewayAPI: gws,
		Listen:       map[types.NamespacedName]string{gwKey: "127.0.0.1:0"},
		AdminAddress: "127.0.0.1:0",
		DrainWindow:  time.Second, ShutdownTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + g.Addr(gwKey).String() + "/"
	admin := "http://" + g.AdminAddr().String()

	var mu sync.Mutex
	var checked []string
	want := map[int64]string{1: "a", 2: "b"}
	gws.PrependReactor("update", "httproutes", func(action clientgotesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		gen := accepted(action.(clientgotesting.UpdateAction).GetObject().(*gatewayv1.HTTPRoute))
		code, body, err := get(url)
		mu.Lock()
		defer mu.Unlock()
		if code != 200 || body != want[gen] {
			checked = append(checked, fmt.Sprintf("status written for generation %d while the gateway answered %d %q (%v), want %q", gen, code, body, err, want[gen]))
		} else {
			checked = append(checked, "ok")
		}
		return false, nil, nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	routes := gws.GatewayV1().HTTPRoutes(gt.Namespace)
	current := func() *gatewayv1.HTTPRoute {
		hr, err := routes.Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return hr
	}
	waitFor(t, "the HTTPRoute accepted at generation 1", func() bool { return accepted(current()) == 1 })
	if code, body, err := get(url); code != 200 || body != "a" {
		t.Errorf("GET: %d %q %v, want 200 a", code, body, err)
	}
	if parents := current().Status.Parents; len(parents) != 2 || parents[0].ControllerName != "example.com/other" {
		t.Errorf("status.parents %+v: want the other controller's entry kept first, ours after", parents)
	}

	waitFor(t, "the Gateway programmed", func() bool {
		gw, err := gws.GatewayV1().Gateways(gt.Namespace).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
		return c != nil && c.Status == metav1.ConditionTrue && len(gw.Status.Addresses) == 1 && gw.Status.Addresses[0].Value == "127.0.0.1"
	})
	waitFor(t, "the GatewayClass accepted", func() bool {
		gc, err := gws.GatewayV1().GatewayClasses().Get(ctx, gt.ClassName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return meta.IsStatusConditionTrue(gc.Status.Conditions, "Accepted")
	})

	// A new generation moves the traffic; its status follows the table.
	hr := current()
	hr.Spec.Rules[0].BackendRefs = []gatewayv1.HTTPBackendRef{gt.Backend("b", 80, 1)}
	hr.Generation = 2
	if _, err := routes.Update(ctx, hr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the HTTPRoute accepted at generation 2", func() bool { return accepted(current()) == 2 })
	mu.Lock()
	for _, c := range checked {
		if c != "ok" {
			t.Error(c)
		}
	}
	if len(checked) < 2 {
		t.Errorf("%d status writes checked, want one per generation at least", len(checked))
	}
	mu.Unlock()

	// Draining: not ready at once, still serving for the window.
	if code, _, _ := get(admin + "/readyz"); code != 200 {
		t.Errorf("/readyz answered %d before the drain, want 200", code)
	}
	cancel()
	waitFor(t, "/readyz to fail while draining", func() bool { code, _, _ := get(admin + "/readyz"); return code == 503 })
	if code, body, err := get(url); code != 200 || body != "b" {
		t.Errorf("GET during the drain window: %d %q %v, want 200 b", code, body, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain window")
	}
	if _, _, err := get(url); err == nil {
		t.Error("the gateway still answers after Run returned")
	}
}

func TestParseListen(t *testing.T) {
	listen := map[types.NamespacedName]string{}
	if err := gateway.ParseListen(listen, "flywheel-system/flywheel-external=127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	if got := listen[types.NamespacedName{Namespace: "flywheel-system", Name: "flywheel-external"}]; got != "127.0.0.1:8080" {
		t.Errorf("parsed %q, want 127.0.0.1:8080", got)
	}
	for _, bad := range []string{
		"flywheel-external=127.0.0.1:8080",                 // no namespace
		"flywheel-system/flywheel-local",                   // no address
		"flywheel-system/flywheel-local=8081",              // no port separator
		"flywheel-system/flywheel-external=127.0.0.1:8082", // given twice
	} {
		if err := gateway.ParseListen(listen, bad); err == nil {
			t.Errorf("ParseListen(%q) accepted it", bad)
		}
	}
}

func TestGatewayNotOfOurClassIsNotServed(t *testing.T) {
	gws := gatewayfake.NewSimpleClientset(gt.GatewayClass(gt.ClassName, "example.com/someone-else"))
	if _, err := gws.GatewayV1().Gateways(gt.Namespace).Create(t.Context(), gt.Gateway("gw"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gwKey := types.NamespacedName{Namespace: gt.Namespace, Name: "gw"}
	g, err := gateway.New(gateway.Config{
		Kube: kubefake.NewClientset(), GatewayAPI: gws,
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
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "the gateway ready", func() bool {
		code, _, _ := get("http://" + g.AdminAddr().String() + "/readyz")
		return code == 200
	})
	code, body, err := get("http://" + g.Addr(gwKey).String() + "/")
	if code != http.StatusNotFound || !strings.Contains(body, "Gateway demo/gw does not exist, or its GatewayClass is not one of controller flywheel.dev/gateway") {
		t.Errorf("got %d %q (%v), want a 404 saying the Gateway is not ours", code, body, err)
	}
	gw, err := gws.GatewayV1().Gateways(gt.Namespace).Get(ctx, "gw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gw.Status.Conditions) != 0 {
		t.Errorf("the gateway wrote status %+v on a Gateway of another controller", gw.Status.Conditions)
	}
}
