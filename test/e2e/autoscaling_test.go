//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// TestScalesWithLoadToZeroAndBack puts 50 clients on a 50 ms app with a
// target of 10 concurrent requests per pod: the built-in autoscaler must
// grow the Revision to at least 4 pods while every request succeeds.
// After the load it must bring the Revision back to its minimum, zero:
// the public Service then points at the activator, and the next requests
// are answered through it as a pod starts.
func TestScalesWithLoadToZeroAndBack(t *testing.T) {
	scalesWithLoadToZeroAndBack(t, "kpa", map[string]string{
		serving.TargetAnnotation.String(): "10",
		// A short stable window keeps the test short: scaling down
		// and to zero wait for a window without load.
		serving.WindowAnnotation.String(): "12s",
	}, nil)
}

// TestHPAClassScalesWithLoadToZeroAndBack is the same load on a Revision
// of the HPA class: Kubernetes' own HPA controller reads concurrency
// from the custom metrics API through the aggregation layer and scales
// the Deployment; the platform still takes it to zero after the load and
// back on the next request.
func TestHPAClassScalesWithLoadToZeroAndBack(t *testing.T) {
	scalesWithLoadToZeroAndBack(t, "hpa", map[string]string{
		serving.ClassAnnotation.String():  serving.HPAClass,
		serving.MetricAnnotation.String(): serving.MetricConcurrency,
		serving.TargetAnnotation.String(): "10",
		serving.WindowAnnotation.String(): "12s",
	}, func(ctx context.Context, ns string) {
		// What the HPA reads, as kubectl get --raw shows it.
		path := "/apis/custom.metrics.k8s.io/v1beta2/namespaces/" + ns + "/pods/*/concurrency"
		raw, err := cluster.Kube.Discovery().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return
		}
		t.Logf("GET %s:\n%s", path, raw)
		var list struct {
			Items []struct{ Value resource.Quantity }
		}
		if err := json.Unmarshal(raw, &list); err != nil || len(list.Items) == 0 || list.Items[0].Value.IsZero() {
			t.Errorf("the custom metrics API shows no concurrency under load (%v): %s", err, raw)
		}
		h, err := cluster.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(h.Items) != 1 {
			t.Errorf("want the Revision's one HorizontalPodAutoscaler, got %v (%v)", h, err)
			return
		}
		t.Logf("HorizontalPodAutoscaler %s: current %d, desired %d, metrics %+v", h.Items[0].Name,
			h.Items[0].Status.CurrentReplicas, h.Items[0].Status.DesiredReplicas, h.Items[0].Status.CurrentMetrics)
	})
}

// TestHPAClassScalesOnCPU gives a Revision of the HPA class a cpu target
// of 20% of its 50m request, and a light load that keeps about a tenth of
// a core busy: Kubernetes' HPA controller reads the pods' CPU from
// metrics.k8s.io, which metrics-server serves from what the process node
// reports, and must grow the Revision to its max-scale of 3. The same API
// answers kubectl top pods.
func TestHPAClassScalesOnCPU(t *testing.T) {
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "hpa-cpu")
	svc := sleeperService(ns, "burner", map[string]string{
		serving.ClassAnnotation.String():    serving.HPAClass,
		serving.MetricAnnotation.String():   serving.MetricCPU,
		serving.TargetAnnotation.String():   "20",
		serving.MaxScaleAnnotation.String(): "3",
	})
	c := &svc.Spec.Template.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: "BURN", Value: "5ms"}}
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}
	created, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "burner", created.Generation)
	deployment := names.Deployment(ready.Status.LatestReadyRevisionName)

	// Two clients, each request 5 ms of CPU and 50 ms of sleep: about
	// 0.2 cores, bounded in requests and time.
	loadCtx, stopLoad := context.WithTimeout(ctx, 3*time.Minute)
	defer stopLoad()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		runLoad(loadCtx, ready.Status.URL.Host, 2, 4000)
	}()
	defer func() { stopLoad(); <-loadDone }()

	// kubectl top pods: the pod's CPU through the aggregation layer.
	path := "/apis/metrics.k8s.io/v1beta1/namespaces/" + ns + "/pods"
	var last string
	err = wait.PollUntilContextTimeout(loadCtx, time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		raw, err := cluster.Kube.Discovery().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = string(raw)
		var list struct {
			Items []struct {
				Containers []struct {
					Name  string
					Usage map[corev1.ResourceName]resource.Quantity
				}
			}
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return false, err
		}
		for _, p := range list.Items {
			for _, c := range p.Containers {
				if cpu := c.Usage[corev1.ResourceCPU]; c.Name == "user-container" && !cpu.IsZero() {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("GET %s never showed the app's CPU (%v); last: %s", path, err, last)
	}
	t.Logf("GET %s:\n%s", path, last)

	waitDeploymentReplicas(t, ns, deployment, 3, 2*time.Minute)
	h, err := cluster.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
	if err == nil && len(h.Items) == 1 {
		t.Logf("HorizontalPodAutoscaler %s: current %d, desired %d, metrics %+v", h.Items[0].Name,
			h.Items[0].Status.CurrentReplicas, h.Items[0].Status.DesiredReplicas, h.Items[0].Status.CurrentMetrics)
	}
}

// TestHPAClassScalesOnMemory gives a Revision of the HPA class a memory
// target of 40 Mi per pod and an app that holds 64 Mi: with no request at
// all the HPA controller reads the pod's working set from metrics.k8s.io
// and grows the Revision to its max-scale of 3 (a pod of the app without
// the 64 Mi stays well under the target).
func TestHPAClassScalesOnMemory(t *testing.T) {
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "hpa-memory")
	svc := sleeperService(ns, "holder", map[string]string{
		serving.ClassAnnotation.String():  serving.HPAClass,
		serving.MetricAnnotation.String(): serving.MetricMemory,
		serving.TargetAnnotation.String(): "40",
		// No request comes: without a floor the Revision would go to
		// zero after its stable window.
		serving.MinScaleAnnotation.String(): "1",
		serving.MaxScaleAnnotation.String(): "3",
	})
	svc.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "HOLD", Value: "64"}}
	created, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "holder", created.Generation)
	waitDeploymentReplicas(t, ns, names.Deployment(ready.Status.LatestReadyRevisionName), 3, 2*time.Minute)
	h, err := cluster.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
	if err == nil && len(h.Items) == 1 {
		t.Logf("HorizontalPodAutoscaler %s: current %d, desired %d, metrics %+v", h.Items[0].Name,
			h.Items[0].Status.CurrentReplicas, h.Items[0].Status.DesiredReplicas, h.Items[0].Status.CurrentMetrics)
	}
}

// TestBurstCapacityKeepsTheActivatorInPath gives a Revision a target of 10
// requests per pod and a target burst capacity of 15. With one pod there
// are only 10 to spare: the autoscaler keeps the activator in the path
// though the pod is ready, and says why, and the pod's sidecar counts the
// forwarded request as the activator's. With two pods, 20 spare, the
// requests go straight to the pods, which count them as their own even
// when a client claims otherwise.
func TestBurstCapacityKeepsTheActivatorInPath(t *testing.T) {
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "burst")
	annotations := map[string]string{
		serving.TargetAnnotation.String():              "10",
		serving.TargetBurstCapacityAnnotation.String(): "15",
		serving.MinScaleAnnotation.String():            "1",
	}
	created, err := client.ServingV1().Services(ns).Create(ctx, sleeperService(ns, "sleeper", annotations), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "sleeper", created.Generation)
	host, first := ready.Status.URL.Host, ready.Status.LatestReadyRevisionName
	waitActivatorPath(t, client, ns, first, corev1.ConditionTrue, "BelowBurstCapacity")
	waitPublicEndpoints(t, ns, first, "the activator", isActivator(t))
	mustGet(t, host, nil)
	// The pod's sidecar counts the request as the activator's, which
	// reports it itself.
	waitPodStats(t, ns, first, "the request through the activator", func(r stats.Report) bool {
		return r.ActivatorRequestCount >= 1
	})

	svc, err := client.ServingV1().Services(ns).Get(ctx, "sleeper", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Template.Annotations[serving.MinScaleAnnotation.String()] = "2"
	updated, err := client.ServingV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second := waitReady(t, client, ns, "sleeper", updated.Generation).Status.LatestReadyRevisionName
	waitActivatorPath(t, client, ns, second, corev1.ConditionFalse, "EnoughCapacity")
	activator := isActivator(t)
	waitPublicEndpoints(t, ns, second, "the pods", func(a string) bool { return !activator(a) })
	// A client that says its requests came through the activator, to
	// hide its load, is not believed: the Route removes the header, and
	// the pods count the requests as their own.
	forged := http.Header{queue.ViaActivatorHeader: {queue.ViaActivatorValue}}
	for range 3 {
		mustGet(t, host, forged)
	}
	waitPodStats(t, ns, second, "requests counted as the pods' own", func(r stats.Report) bool {
		return r.ProxiedRequestCount > r.ActivatorRequestCount
	})
}

// waitPodStats waits until ok holds for the sum of what the sidecars of
// the Revision's pods measured over the last minute, read from their
// stats endpoints as the autoscaler reads them.
func waitPodStats(t *testing.T, ns, rev, what string, ok func(stats.Report) bool) {
	t.Helper()
	var sum stats.Report
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: serving.RevisionLabel.String() + "=" + rev})
		if err != nil {
			return false, err
		}
		sum = stats.Report{}
		for _, p := range pods.Items {
			if p.Status.PodIP == "" {
				continue
			}
			// A time before the sidecar started asks for every second
			// it keeps.
			r, err := metrics.Scrape(ctx, httpClient, p.Status.PodIP, time.Unix(1, 0))
			if err != nil {
				return false, nil
			}
			sum.ProxiedRequestCount += r.ProxiedRequestCount
			sum.ActivatorRequestCount += r.ActivatorRequestCount
		}
		return ok(sum), nil
	})
	if err != nil {
		t.Fatalf("waiting for the sidecars of %s to report %s; last: %d proxied, %d of them through the activator: %v",
			rev, what, sum.ProxiedRequestCount, sum.ActivatorRequestCount, err)
	}
	t.Logf("sidecars of %s: %d proxied, %d of them through the activator", rev, sum.ProxiedRequestCount, sum.ActivatorRequestCount)
}

// waitActivatorPath waits until the Revision's ActivatorInPath condition
// has status and reason.
func waitActivatorPath(t *testing.T, client versioned.Interface, ns, rev string, status corev1.ConditionStatus, reason string) {
	t.Helper()
	var last any = "no Revision"
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		r, err := client.ServingV1().Revisions(ns).Get(ctx, rev, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := r.Status.GetCondition(servingv1.RevisionConditionActivatorInPath)
		if c == nil {
			last = "no ActivatorInPath condition"
			return false, nil
		}
		last = *c
		return c.Status == status && c.Reason == reason, nil
	})
	if err != nil {
		t.Fatalf("waiting for Revision %s to say ActivatorInPath %s (%s); last seen %+v: %v", rev, status, reason, last, err)
	}
	t.Logf("Revision %s: ActivatorInPath %s (%s)", rev, status, reason)
}

// scalesWithLoadToZeroAndBack runs the autoscaling tests' script on a
// Revision with annotations; during runs once, halfway through the load.
func scalesWithLoadToZeroAndBack(t *testing.T, name string, annotations map[string]string, during func(ctx context.Context, ns string)) {
	const (
		clients              = 50
		load                 = 30 * time.Second
		maxRequestsPerClient = 2000
	)
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, name)
	created, err := client.ServingV1().Services(ns).Create(ctx, sleeperService(ns, "sleeper", annotations), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "sleeper", created.Generation)
	host, rev := ready.Status.URL.Host, ready.Status.LatestReadyRevisionName
	deployment := names.Deployment(rev)

	loadCtx, stopLoad := context.WithTimeout(ctx, load)
	defer stopLoad()
	var peak atomic.Int32
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		halfway := time.Now().Add(load / 2)
		for loadCtx.Err() == nil {
			if d, err := cluster.Kube.AppsV1().Deployments(ns).Get(loadCtx, deployment, metav1.GetOptions{}); err == nil {
				peak.Store(max(peak.Load(), d.Status.ReadyReplicas))
			}
			if during != nil && time.Now().After(halfway) {
				during(loadCtx, ns)
				during = nil
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	ok, failures := runLoad(loadCtx, host, clients, maxRequestsPerClient)
	<-watchDone
	t.Logf("%d requests answered 200 by %d clients in %v; at most %d pods were ready", ok, clients, load, peak.Load())
	if len(failures) > 0 {
		t.Errorf("%d requests failed; the first: %v", len(failures), failures[:min(5, len(failures))])
	}
	if peak.Load() < 4 {
		t.Errorf("at most %d pods were ready under %d clients, want at least 4", peak.Load(), clients)
		describePods(t, ns)
	}

	// Back to the minimum, zero, after a window without load and the
	// scale-to-zero grace period, with the activator in the path.
	waitDeploymentReplicas(t, ns, deployment, 0, 3*time.Minute)
	waitNoPods(t, ns, rev)
	waitPublicEndpoints(t, ns, rev, "the activator", isActivator(t))

	// The next requests wake it through the activator.
	start := time.Now()
	body := mustGet(t, host, nil)
	t.Logf("the first request at zero was answered in %v: %q", time.Since(start).Round(time.Millisecond), strings.TrimSpace(body))
	wakeCtx, stopWake := context.WithTimeout(ctx, 3*time.Second)
	defer stopWake()
	if ok, failures := runLoad(wakeCtx, host, 10, 200); len(failures) > 0 {
		t.Errorf("after the wake-up %d requests failed (%d answered); the first: %v", len(failures), ok, failures[:min(5, len(failures))])
	}
	// fw service describe shows that cold start, as the autoscaler heard
	// of it from the activator (its next report, within a second).
	var described string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		described = fw(t, "service", "describe", "sleeper", "-n", ns)
		for line := range strings.Lines(described) {
			// REVISION CONCURRENCY REQUESTS/S COLD STARTS P50 P95
			if f := strings.Fields(line); len(f) == 6 && f[0] == rev && f[3] != "0" && f[3] != "-" && f[4] != "-" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("fw service describe shows no cold start of %s: %v\n%s", rev, err, described)
	} else {
		t.Logf("fw service describe:\n%s", described)
	}
	pa, err := client.AutoscalingV1alpha1().PodAutoscalers(ns).Get(ctx, rev, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pa.Status.GetCondition("Active").IsTrue() || pa.Status.DesiredScale == nil || *pa.Status.DesiredScale < 1 {
		t.Errorf("after the wake-up the PodAutoscaler is not active with a pod: %+v", pa.Status)
	}
}

// runLoad sends requests for host from clients goroutines, each at most
// maxRequests, until ctx ends, and returns how many were answered 200
// and what went wrong with the others.
func runLoad(ctx context.Context, host string, clients, maxRequests int) (int, []string) {
	var (
		mu       sync.Mutex
		ok       int
		failures []string
		wg       sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			for range maxRequests {
				code, body, err := get(ctx, host, nil)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case code != http.StatusOK:
					failures = append(failures, fmt.Sprintf("%d %s", code, strings.TrimSpace(body)))
				default:
					ok++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, failures
}

// sleeperService is a Service of the 50 ms test app with the Revision
// annotations given.
func sleeperService(ns, name string, annotations map[string]string) *servingv1.Service {
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Image: "ko://flywheel.dev/test/e2e/testdata/sleeper",
			}}}},
		}}},
	}
}

// waitDeploymentReplicas waits until the Deployment asks for replicas.
func waitDeploymentReplicas(t *testing.T, ns, name string, replicas int32, timeout time.Duration) {
	t.Helper()
	var last int32 = -1
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := cluster.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.Spec.Replicas != nil {
			last = *d.Spec.Replicas
		}
		return last == replicas, nil
	})
	if err != nil {
		t.Fatalf("waiting for Deployment %s to ask for %d replicas (it asks for %d): %v", name, replicas, last, err)
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
