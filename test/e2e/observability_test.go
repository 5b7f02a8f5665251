//go:build e2e

package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
)

// TestComponentsServeTheirMetrics reads each component's Prometheus
// endpoint (port 9090 of its pod, config-observability's default) after
// a request through the gateway: the gateway's request durations name
// the HTTPRoute and the status, the activator's queue depth and the
// autoscaler's decision name the Revision, and the controller and the
// webhook serve knative.dev/pkg's.
func TestComponentsServeTheirMetrics(t *testing.T) {
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "metrics")
	created, err := client.ServingV1().Services(ns).Create(ctx, sleeperService(ns, "measured", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "measured", created.Generation)
	mustGet(t, ready.Status.URL.Host, nil)
	rev := ready.Status.LatestReadyRevisionName

	for component, wants := range map[string][]string{
		// The Route's HTTPRoute for its public host is named after it.
		"gateway":   {`http_server_request_duration_seconds_bucket{`, `flywheel_route="` + ns + "/" + ready.Status.URL.Host + `"`, `http_response_status_code="200"`},
		"activator": {`flywheel_activator_queue_depth{`, `flywheel_revision="` + rev + `"`},
		// knative.dev/pkg's work-queue figures of the reconcilers.
		"controller": {"kn_workqueue_adds_total{"},
		"webhook":    {"# TYPE "},
		"autoscaler": {`flywheel_autoscaler_desired_pods{`, `flywheel_autoscaler_actual_pods{`, `flywheel_revision="` + rev + `"`},
	} {
		var last string
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			last = scrapeComponent(ctx, t, component)
			for _, w := range wants {
				if !strings.Contains(last, w) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Errorf("%s's metrics lack %q; they were:\n%s", component, wants, tail(last, 40))
		}
	}
}

// scrapeComponent reads /metrics on port 9090 of a ready pod of the
// component's Deployment in the system namespace.
func scrapeComponent(ctx context.Context, t *testing.T, component string) string {
	t.Helper()
	pods, err := cluster.Kube.CoreV1().Pods(local.SystemNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/component=" + component,
	})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
			continue
		}
		url := "http://" + net.JoinHostPort(p.Status.PodIP, "9090") + "/metrics"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(b)
	}
	return "no running pod of " + component
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
