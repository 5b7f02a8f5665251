//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// TestNoRequestIsLostThroughZeroAndBack runs a steady load while the
// Revision's Deployment goes to zero pods and back, by hand here, as the
// autoscaler will do it. At zero the public Service points at the
// activator, which holds the requests until a pod is ready again; then it
// points at the pod. Every request must be answered 200, and some must
// have waited through the time at zero.
func TestNoRequestIsLostThroughZeroAndBack(t *testing.T) {
	const (
		clients              = 10
		maxRequestsPerClient = 5000
		maxLoad              = 3 * time.Minute
	)
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "zero")
	created, err := client.ServingV1().Services(ns).Create(ctx, helloService(ns, "zero", "zero"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc := waitReady(t, client, ns, "zero", created.Generation)
	host, rev := svc.Status.URL.Host, svc.Status.LatestReadyRevisionName

	loadCtx, stopLoad := context.WithTimeout(ctx, maxLoad)
	defer stopLoad()
	var (
		mu          sync.Mutex
		ok          int
		failures    []string
		longestWait time.Duration
	)
	var clientsDone sync.WaitGroup
	for range clients {
		clientsDone.Go(func() {
			for range maxRequestsPerClient {
				start := time.Now()
				code, body, err := get(loadCtx, host, nil)
				took := time.Since(start)
				mu.Lock()
				switch {
				case loadCtx.Err() != nil:
				case err != nil:
					failures = append(failures, err.Error())
				case code != http.StatusOK:
					failures = append(failures, fmt.Sprintf("%d %s", code, strings.TrimSpace(body)))
				default:
					ok++
					longestWait = max(longestWait, took)
				}
				mu.Unlock()
				if loadCtx.Err() != nil {
					return
				}
			}
		})
	}

	time.Sleep(500 * time.Millisecond)
	scale(t, ns, names.Deployment(rev), 0)
	waitPublicEndpoints(t, ns, rev, "the activator", isActivator(t))
	waitNoPods(t, ns, rev)
	// Requests arriving now can only wait at the activator.
	time.Sleep(2 * time.Second)
	scale(t, ns, names.Deployment(rev), 1)
	waitPublicEndpoints(t, ns, rev, "the revision's pod", func(addr string) bool { return !isActivator(t)(addr) })
	time.Sleep(time.Second) // load on the pod again
	stopLoad()
	clientsDone.Wait()

	t.Logf("%d requests answered 200 through zero and back; the longest took %v", ok, longestWait.Round(time.Millisecond))
	if len(failures) > 0 {
		t.Errorf("%d requests failed; the first: %v", len(failures), failures[:min(5, len(failures))])
	}
	if longestWait < 2*time.Second {
		t.Errorf("the longest request took %v, less than the 2 s at zero: no request waited at the activator", longestWait)
	}
}

// scale sets the replicas of a Deployment through its scale subresource,
// as an autoscaler does.
func scale(t *testing.T, ns, deployment string, replicas int32) {
	t.Helper()
	_, err := cluster.Kube.AppsV1().Deployments(ns).UpdateScale(t.Context(), deployment, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: deployment, Namespace: ns},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("scaling Deployment %s to %d: %v", deployment, replicas, err)
	}
}

// isActivator returns whether an address is one of the activator's.
func isActivator(t *testing.T) func(string) bool {
	t.Helper()
	list, err := cluster.Kube.DiscoveryV1().EndpointSlices(local.SystemNamespace).List(t.Context(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + activator.ServiceName,
	})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			addrs = append(addrs, ep.Addresses...)
		}
	}
	if len(addrs) == 0 {
		t.Fatal("the activator's Service has no endpoints")
	}
	return func(a string) bool { return slices.Contains(addrs, a) }
}

// waitPublicEndpoints waits until the Revision's public Service has
// endpoints and every one of them satisfies is.
func waitPublicEndpoints(t *testing.T, ns, rev, what string, is func(string) bool) {
	t.Helper()
	var last []string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cluster.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + names.PublicService(rev),
		})
		if err != nil {
			return false, err
		}
		last = nil
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				last = append(last, ep.Addresses...)
			}
		}
		return len(last) > 0 && !slices.ContainsFunc(last, func(a string) bool { return !is(a) }), nil
	})
	if err != nil {
		t.Fatalf("waiting for the public Service of %s to point at %s (it points at %v): %v", rev, what, last, err)
	}
}

// waitNoPods waits until the Revision has no pod left, terminating ones
// included.
func waitNoPods(t *testing.T, ns, rev string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: serving.RevisionLabel.String() + "=" + rev})
		return err == nil && len(pods.Items) == 0, err
	})
	if err != nil {
		t.Fatalf("waiting for the pods of %s to go: %v", rev, err)
	}
}
