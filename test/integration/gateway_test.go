//go:build integration

package integration

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"flywheel.dev/pkg/gateway"
	"flywheel.dev/pkg/gateway/status"
)

// TestGateway runs the flywheel gateway in-process against the real API
// server: a GatewayClass, a Gateway, an HTTPRoute splitting between two
// Services whose EndpointSlices point into a network namespace the test
// makes. It shows the status the gateway writes, a request reaching the
// backend through it, and a weight change taking effect by the time the
// HTTPRoute's status says its new generation is accepted.
func TestGateway(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("%s needs root: it creates a network namespace for the backends", t.Name())
	}
	ns := newNamespace(t, "gateway")
	ctx := t.Context()
	gws := gatewayclient.NewForConfigOrDie(cluster.RESTConfig())

	pod := newPodNetns(t, gatewayNetns)
	pod.serve(t, 8080, "v1")
	pod.serve(t, 8081, "v2")
	for name, port := range map[string]int32{"v1": 8080, "v2": 8081} {
		gatewayBackend(t, ns, name, pod.ip, port)
	}

	// A class of its own, so that the test owns everything the gateway
	// reads, whatever else the cluster holds.
	className := "flywheel-" + ns
	if _, err := gws.GatewayV1().GatewayClasses().Create(ctx, &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: className},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: status.ControllerName},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gws.GatewayV1().GatewayClasses().Delete(context.Background(), className, metav1.DeleteOptions{})
	})
	if _, err := gws.GatewayV1().Gateways(ns).Create(ctx, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(className),
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const host = "hello.example.com"
	route, err := gws.GatewayV1().HTTPRoutes(ns).Create(ctx, &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "external"}}},
			Hostnames:       []gatewayv1.Hostname{host},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{
				gatewayBackendRef("v1", 100), gatewayBackendRef("v2", 0),
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	gwKey := types.NamespacedName{Namespace: ns, Name: "external"}
	g, err := gateway.New(gateway.Config{
		RESTConfig:   cluster.RESTConfig(),
		Listen:       map[types.NamespacedName]string{gwKey: "127.0.0.1:0"},
		AdminAddress: "127.0.0.1:0",
		DrainWindow:  -1,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the gateway: %v", err)
		}
	})
	url := "http://" + g.Addr(gwKey).String() + "/"

	acceptedAt := func(generation int64) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			hr, err := gws.GatewayV1().HTTPRoutes(ns).Get(ctx, "hello", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, p := range hr.Status.Parents {
				if p.ControllerName == status.ControllerName &&
					conditionAt(p.Conditions, "Accepted", generation) && conditionAt(p.Conditions, "ResolvedRefs", generation) {
					return true, nil
				}
			}
			return false, nil
		}
	}
	waitUntil(t, 30*time.Second, "the HTTPRoute accepted with its refs resolved", acceptedAt(route.Generation))

	t.Run("the Gateway and its class report what is served", func(t *testing.T) {
		gw, err := gws.GatewayV1().Gateways(ns).Get(ctx, "external", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !conditionAt(gw.Status.Conditions, "Programmed", gw.Generation) || !conditionAt(gw.Status.Conditions, "Accepted", gw.Generation) {
			t.Errorf("Gateway conditions %+v, want Accepted and Programmed True at generation %d", gw.Status.Conditions, gw.Generation)
		}
		if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Value != "127.0.0.1" {
			t.Errorf("Gateway addresses %+v, want the listen address 127.0.0.1", gw.Status.Addresses)
		}
		if len(gw.Status.Listeners) != 1 || gw.Status.Listeners[0].AttachedRoutes != 1 {
			t.Errorf("Gateway listeners %+v, want one with 1 attached route", gw.Status.Listeners)
		}
		waitUntil(t, 10*time.Second, "the GatewayClass accepted", func(ctx context.Context) (bool, error) {
			gc, err := gws.GatewayV1().GatewayClasses().Get(ctx, className, metav1.GetOptions{})
			return err == nil && conditionAt(gc.Status.Conditions, "Accepted", gc.Generation), err
		})
	})

	t.Run("a request reaches the backend", func(t *testing.T) {
		for range 5 {
			if body := gatewayGet(t, url, host); body != "v1" {
				t.Fatalf("got %q, want v1 (weights v1=100, v2=0)", body)
			}
		}
	})

	t.Run("a weight change applies once its generation is accepted", func(t *testing.T) {
		var generation int64
		err := retryOnConflict(ctx, func() error {
			hr, err := gws.GatewayV1().HTTPRoutes(ns).Get(ctx, "hello", metav1.GetOptions{})
			if err != nil {
				return err
			}
			hr.Spec.Rules[0].BackendRefs = []gatewayv1.HTTPBackendRef{gatewayBackendRef("v1", 0), gatewayBackendRef("v2", 100)}
			hr, err = gws.GatewayV1().HTTPRoutes(ns).Update(ctx, hr, metav1.UpdateOptions{})
			if err == nil {
				generation = hr.Generation
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "the new generation accepted", acceptedAt(generation))
		// No grace period: status at the generation means it is served.
		for range 20 {
			if body := gatewayGet(t, url, host); body != "v2" {
				t.Fatalf("got %q right after generation %d was accepted, want v2 (weights v1=0, v2=100)", body, generation)
			}
		}
	})

	t.Run("an unknown host gets a 404 that says so", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Host = "nobody.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no HTTPRoute") {
			t.Errorf("got %d %q, want 404 naming the missing HTTPRoute", resp.StatusCode, body)
		}
	})
}

func conditionAt(conds []metav1.Condition, typ string, generation int64) bool {
	c := meta.FindStatusCondition(conds, typ)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

func gatewayBackendRef(service string, weight int32) gatewayv1.HTTPBackendRef {
	port := gatewayv1.PortNumber(80)
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(service), Port: &port},
		Weight:                 &weight,
	}}
}

// gatewayBackend creates a selectorless Service name (port 80, named
// http) and an EndpointSlice that puts it at ip:port, as the serverless
// logic does for a Revision's public Service.
func gatewayBackend(t *testing.T, ns, name string, ip netip.Addr, port int32) {
	t.Helper()
	ctx := t.Context()
	_, err := cluster.Kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(port),
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Service %s: %v", name, err)
	}
	portName, tcp, ready := "http", corev1.ProtocolTCP, true
	_, err = cluster.Kube.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name + "-pods",
			Labels: map[string]string{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "flywheel-gateway-test"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Protocol: &tcp, Port: &port}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the EndpointSlice of %s: %v", name, err)
	}
}

func gatewayGet(t *testing.T, url, host string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s (Host %s): %s: %s", url, host, resp.Status, body)
	}
	return string(body)
}

// serve answers every request with body on port, from inside the
// namespace, until the test ends.
func (p *podNetns) serve(t *testing.T, port int, body string) {
	t.Helper()
	ln, err := p.listen(net.JoinHostPort(p.ip.String(), strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listening on %s:%d in %s: %v", p.ip, port, p.name, err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}
