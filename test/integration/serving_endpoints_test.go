//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/serverlessservice"
)

// TestServerlessEndpointsFollowPodReadiness follows the request path's
// switch in serve mode: once a Service is Ready, its revision's public
// Service (the one routes send traffic to, with no selector) has an
// EndpointSlice with the ready pod's address and the sidecar's port under
// the port name http, as kube-controller-manager wrote them for the
// private Service; when the pod turns unready, its address leaves the
// public Service while the private one still lists it, as not ready.
func TestServerlessEndpointsFollowPodReadiness(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "endpoints")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "switch", Namespace: ns},
		Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
	}
	if _, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const revision = "switch-00001"
	// kube-controller-manager lists a pod in its Service's slices only
	// once it is on a Node that exists; no scheduler runs, so the test
	// makes the Node and binds the pods.
	scheduleOnto(t, ns, newNode(t))
	actAsKubelet(t, ns, revision, runningAndReady)
	acceptHTTPRoutes(t, ns)
	waitForCondition(t, "the Service to be Ready", func(ctx context.Context) (*servingv1.Service, error) {
		return client.ServingV1().Services(ns).Get(ctx, "switch", metav1.GetOptions{})
	}, func(s *servingv1.Service) bool { return s.IsReady() })

	// The address the test, as kubelet, gives every pod it runs.
	played := &corev1.Pod{}
	runningAndReady(played)
	podIPs := []string{played.Status.PodIP}
	public := waitForCondition(t, "the public Service's slices to hold the ready pods", func(ctx context.Context) ([]discoveryv1.EndpointSlice, error) {
		return slicesOfService(ctx, ns, revision)
	}, func(s []discoveryv1.EndpointSlice) bool { return slices.Equal(readyAddressesOf(s), podIPs) })
	for _, s := range public {
		checkControlledBy(t, &s, "Revision", revision)
		if got := s.Labels[discoveryv1.LabelManagedBy]; got != serverlessservice.ManagedBy {
			t.Errorf("slice %s is managed by %q, want %q", s.Name, got, serverlessservice.ManagedBy)
		}
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice %s has address type %s, want IPv4", s.Name, s.AddressType)
		}
		if got, ok := portNamed(s, "http"); !ok || got != queue.ServingPort {
			t.Errorf("slice %s port http = %d (present: %t), want %d", s.Name, got, ok, queue.ServingPort)
		}
	}

	// The pod turns unready: it leaves the public Service.
	start := time.Now()
	actAsKubelet(t, ns, revision, runningButNotReady)
	waitForCondition(t, "the unready pod to leave the public Service", func(ctx context.Context) ([]discoveryv1.EndpointSlice, error) {
		return slicesOfService(ctx, ns, revision)
	}, func(s []discoveryv1.EndpointSlice) bool {
		return len(readyAddressesOf(s)) == 0 && len(listedAddresses(s)) == 0
	})
	t.Logf("the unready pod left the public Service %v after its status changed", time.Since(start).Round(time.Millisecond))
	private, err := slicesOfService(ctx, ns, revision+"-private")
	if err != nil {
		t.Fatal(err)
	}
	if got := listedAddresses(private); !slices.Equal(got, podIPs) || len(readyAddressesOf(private)) != 0 {
		t.Errorf("the private Service lists %v, %v of them ready; want %v, none ready", got, readyAddressesOf(private), podIPs)
	}

	// Ready again: back in.
	actAsKubelet(t, ns, revision, runningAndReady)
	waitForCondition(t, "the pod, ready again, to be back in the public Service", func(ctx context.Context) ([]discoveryv1.EndpointSlice, error) {
		return slicesOfService(ctx, ns, revision)
	}, func(s []discoveryv1.EndpointSlice) bool { return slices.Equal(readyAddressesOf(s), podIPs) })
}

// newNode registers a Node for the test, with no kubelet behind it, and
// removes it after. The node lifecycle controller would mark its pods
// unready once the Node went without a heartbeat for its grace period
// (50 s), far longer than the test needs.
func newNode(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("fw-endpoints-test-%d", os.Getpid())
	nodes := cluster.Kube.CoreV1().Nodes()
	n, err := nodes.Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Node %s: %v", name, err)
	}
	t.Cleanup(func() { _ = nodes.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	// kube-controller-manager writes the new Node too (taints, CIDRs):
	// read it again on a conflict.
	err = retryOnConflict(t.Context(), func() error {
		now := metav1.Now()
		n.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}}
		_, err := nodes.UpdateStatus(t.Context(), n, metav1.UpdateOptions{})
		if apierrs.IsConflict(err) {
			if fresh, gerr := nodes.Get(t.Context(), name, metav1.GetOptions{}); gerr == nil {
				n = fresh
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("marking Node %s ready: %v", name, err)
	}
	return name
}

// scheduleOnto plays the scheduler for ns until the test ends: it binds
// every pod there to node. It keeps running because the Deployment rolls
// out a new pod once the Revision learns its image digests from the first.
func scheduleOnto(t *testing.T, ns, node string) {
	t.Helper()
	pods := cluster.Kube.CoreV1().Pods(ns)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			unbound, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName="})
			if err != nil {
				return false, nil
			}
			for _, p := range unbound.Items {
				// A failure is a pod bound or deleted meanwhile.
				_ = pods.Bind(ctx, &corev1.Binding{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name},
					Target:     corev1.ObjectReference{Kind: "Node", Name: node},
				}, metav1.CreateOptions{})
			}
			return false, nil
		})
	}()
}

// runningButNotReady is a pod whose containers run but whose readiness
// probe fails.
func runningButNotReady(p *corev1.Pod) {
	runningAndReady(p)
	for i := range p.Status.Conditions {
		if c := &p.Status.Conditions[i]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			c.Status = corev1.ConditionFalse
		}
	}
	for i := range p.Status.ContainerStatuses {
		p.Status.ContainerStatuses[i].Ready = false
	}
}

// slicesOfService lists the EndpointSlices of a Service.
func slicesOfService(ctx context.Context, ns, service string) ([]discoveryv1.EndpointSlice, error) {
	list, err := cluster.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service}).String(),
	})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// listedAddresses returns the sorted addresses the slices list, and
// readyAddressesOf those of ready endpoints.
func listedAddresses(ss []discoveryv1.EndpointSlice) []string {
	return addressesWhere(ss, func(discoveryv1.Endpoint) bool { return true })
}

func readyAddressesOf(ss []discoveryv1.EndpointSlice) []string {
	return addressesWhere(ss, func(ep discoveryv1.Endpoint) bool {
		return ep.Conditions.Ready == nil || *ep.Conditions.Ready
	})
}

func addressesWhere(ss []discoveryv1.EndpointSlice, keep func(discoveryv1.Endpoint) bool) []string {
	var out []string
	for _, s := range ss {
		for _, ep := range s.Endpoints {
			if keep(ep) {
				out = append(out, ep.Addresses...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func portNamed(s discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range s.Ports {
		if p.Name != nil && *p.Name == name && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}
