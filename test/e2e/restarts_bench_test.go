//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/nodetest"
)

// The bounds of the load kept on the gateway across its crash.
const (
	restartClients     = 10
	restartMaxRequests = 200000
	restartMaxLoad     = 30 * time.Second
)

// BenchmarkRestarts measures what a crash of a component costs in local
// mode, as a user would see it:
//
//   - gateway-kill: 10 clients keep calling a Service through the gateway
//     while its process is SIGKILLed (the node restarts it in its pod);
//     it reports the requests answered other than 200 and those that
//     failed (a reset, an EOF), of which up to one per client is the
//     request the dead process held, and how long until a 200 again;
//
//   - controller-kill: the controller's process is SIGKILLed and a new
//     Service created at once; it reports the time to that Service Ready;
//
//   - controller-failover: two controller replicas run; the one that
//     holds the most leases is SIGKILLed and its pod deleted at once (a
//     node lost, as on a cluster), and a new Service created; it reports
//     the time to that Service Ready, which the standby's takeover of the
//     dead replica's leases decides.
//
//     go test -tags e2e -run '^$' -bench Restarts -benchtime 1x ./test/e2e/
func BenchmarkRestarts(b *testing.B) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	b.Run("gateway-kill", func(b *testing.B) {
		for range b.N {
			gatewayKill(b, client)
		}
	})
	b.Run("controller-kill", func(b *testing.B) {
		for range b.N {
			controllerKill(b, client)
		}
	})
	b.Run("controller-failover", func(b *testing.B) {
		for range b.N {
			controllerFailover(b, client)
		}
	})
}

func gatewayKill(b *testing.B, client versioned.Interface) {
	ns := newNamespace(b, "restart-gw")
	svc := helloService(ns, "steady", "steady")
	// One pod all along: the activator stays out of the path.
	svc.Spec.Template.Annotations = map[string]string{"autoscaling.knative.dev/min-scale": "1"}
	created, err := client.ServingV1().Services(ns).Create(b.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	host := waitReady(b, client, ns, "steady", created.Generation).Status.URL.Host

	ctx, cancel := context.WithTimeout(b.Context(), restartMaxLoad)
	defer cancel()
	var (
		mu        sync.Mutex
		ok        int
		codes     = map[int]int{}
		failures  = map[string]int{}
		remaining = restartMaxRequests
	)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: restartClients}, Timeout: 10 * time.Second}
	defer httpc.CloseIdleConnections()
	var wg sync.WaitGroup
	for range restartClients {
		wg.Go(func() {
			for {
				mu.Lock()
				if remaining == 0 || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				remaining--
				mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cluster.GatewayAddr+"/", nil)
				req.Host = host
				resp, err := httpc.Do(req)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
				case err != nil:
					failures[failureKind(err)]++
				default:
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						ok++
					} else {
						codes[resp.StatusCode]++
					}
				}
				mu.Unlock()
			}
		})
	}
	// A second of steady load, the crash, then load until the gateway's
	// pod is Ready again and for two seconds more.
	time.Sleep(time.Second)
	b.ResetTimer()
	killedAt := time.Now()
	killContainer(b, local.SystemNamespace, "app.kubernetes.io/name=flywheel-gateway", "gateway")
	waitContainerRestarted(b, local.SystemNamespace, "app.kubernetes.io/name=flywheel-gateway", "gateway")
	readyAfter := time.Since(killedAt)
	b.StopTimer()
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()

	failed := 0
	for _, n := range failures {
		failed += n
	}
	not200 := 0
	for _, n := range codes {
		not200 += n
	}
	b.Logf("gateway SIGKILLed under %d clients: %d answered 200, %d answered otherwise %v, %d failed %v; its pod Ready again %v after the kill",
		restartClients, ok, not200, codes, failed, failures, readyAfter.Round(time.Millisecond))
	b.ReportMetric(float64(ok), "ok")
	b.ReportMetric(float64(not200), "not-200")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(readyAfter.Milliseconds()), "ms-to-ready")
}

func controllerKill(b *testing.B, client versioned.Interface) {
	ns := newNamespace(b, "restart-ctl")
	b.ResetTimer()
	start := time.Now()
	killContainer(b, local.SystemNamespace, controllerSelector, "controller")
	created, err := client.ServingV1().Services(ns).Create(b.Context(), helloService(ns, "after", "after"), metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	waitReady(b, client, ns, "after", created.Generation)
	took := time.Since(start)
	b.StopTimer()
	b.Logf("controller SIGKILLed, a new Service Ready %v later", took.Round(time.Millisecond))
	b.ReportMetric(took.Seconds(), "s-to-ready")
}

// controllerSelector selects the controller's pods.
const controllerSelector = "app.kubernetes.io/name=flywheel-controller"

func controllerFailover(b *testing.B, client versioned.Interface) {
	ns := newNamespace(b, "failover")
	scaleController(b, 2)
	b.Cleanup(func() { scaleController(b, 1) })

	pods, err := cluster.Kube.CoreV1().Pods(local.SystemNamespace).List(b.Context(), metav1.ListOptions{LabelSelector: controllerSelector})
	if err != nil {
		b.Fatal(err)
	}
	leases, err := cluster.Kube.CoordinationV1().Leases(local.SystemNamespace).List(b.Context(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	held := map[string]int{}
	for _, l := range leases.Items {
		if l.Spec.HolderIdentity == nil {
			continue
		}
		for _, p := range pods.Items {
			if strings.HasPrefix(*l.Spec.HolderIdentity, p.Name) {
				held[p.Name]++
			}
		}
	}
	var leader *corev1.Pod
	for i, p := range pods.Items {
		if leader == nil || held[p.Name] > held[leader.Name] {
			leader = &pods.Items[i]
		}
	}
	if held[leader.Name] == 0 {
		b.Fatalf("no controller pod holds a lease: %v", held)
	}

	b.ResetTimer()
	start := time.Now()
	killPodContainer(b, leader, "controller")
	zero := int64(0)
	if err := cluster.Kube.CoreV1().Pods(local.SystemNamespace).Delete(b.Context(), leader.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		b.Fatal(err)
	}
	created, err := client.ServingV1().Services(ns).Create(b.Context(), helloService(ns, "failover", "failover"), metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	waitReady(b, client, ns, "failover", created.Generation)
	took := time.Since(start)
	b.StopTimer()
	b.Logf("two controller replicas; the one holding %d of %d held leases SIGKILLed and its pod deleted; a new Service Ready %v later",
		held[leader.Name], held[pods.Items[0].Name]+held[pods.Items[1].Name], took.Round(time.Millisecond))
	b.ReportMetric(took.Seconds(), "s-to-ready")
}

// scaleController sets the controller's replicas and waits until exactly
// that many of its pods exist, all Ready.
func scaleController(b testing.TB, replicas int32) {
	b.Helper()
	ctx := context.Background()
	deployments := cluster.Kube.AppsV1().Deployments(local.SystemNamespace)
	scale, err := deployments.GetScale(ctx, "flywheel-controller", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	scale.Spec.Replicas = replicas
	if _, err := deployments.UpdateScale(ctx, "flywheel-controller", scale, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	var ready, all int
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.Kube.CoreV1().Pods(local.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: controllerSelector})
		if err != nil {
			return false, nil
		}
		ready, all = 0, len(pods.Items)
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready++
				}
			}
		}
		return ready == int(replicas) && all == int(replicas), nil
	})
	if err != nil {
		b.Fatalf("the controller at %d replicas: %d pods, %d Ready", replicas, all, ready)
	}
}

// killContainer sends SIGKILL to every process of the container of the
// one pod selector selects in ns, found through the node's cgroup for it:
// a crash, after which the node restarts the container in its pod.
func killContainer(b testing.TB, ns, selector, container string) {
	b.Helper()
	killPodContainer(b, onePod(b, ns, selector), container)
}

// killPodContainer sends SIGKILL to every process of pod's container.
func killPodContainer(b testing.TB, pod *corev1.Pod, container string) {
	b.Helper()
	procs := filepath.Join(nodetest.NodeCgroup(node.DefaultNodeName), "pod-"+string(pod.UID), container, "cgroup.procs")
	raw, err := os.ReadFile(procs)
	if err != nil {
		b.Fatalf("reading the %s container's processes: %v", container, err)
	}
	killed := 0
	for _, f := range strings.Fields(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	if killed == 0 {
		b.Fatalf("no process of the %s container to kill in %s", container, procs)
	}
}

// waitContainerRestarted waits until the container of the pod selector
// selects has restarted and the pod is Ready again.
func waitContainerRestarted(b testing.TB, ns, selector, container string) {
	b.Helper()
	err := wait.PollUntilContextTimeout(b.Context(), 20*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		pod := onePod(b, ns, selector)
		for _, c := range pod.Status.ContainerStatuses {
			if c.Name == container && c.RestartCount > 0 && c.Ready {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		b.Fatalf("the %s container never came back: %v", container, err)
	}
}

func onePod(b testing.TB, ns, selector string) *corev1.Pod {
	b.Helper()
	pods, err := cluster.Kube.CoreV1().Pods(ns).List(b.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(pods.Items) != 1 {
		b.Fatalf("want one pod %s in %s, got %d (%v)", selector, ns, len(pods.Items), err)
	}
	return &pods.Items[0]
}

// failureKind names how a request failed: a reset, an EOF, a refusal.
func failureKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case strings.Contains(err.Error(), "EOF"):
		return "eof"
	}
	return fmt.Sprintf("other (%v)", err)
}
