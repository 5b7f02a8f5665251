//go:build e2e

package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/queue"
)

// TestComponentsServeTheirMetrics reads each component's Prometheus
// endpoint (port 9090 of its pod, config-observability's default) after
// a request through the gateway and an event through a Broker: the
// gateway's request durations name the HTTPRoute and the status, the
// activator's queue depth and the autoscaler's decision name the
// Revision, the Revision's sidecar has its request durations and its
// load figures, the broker ingress counts the event for its Broker and
// the dispatcher for its Trigger, and the controller and the webhook
// serve knative.dev/pkg's.
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

	// The Revision's pod is up now, just after the request: its sidecar's
	// figures are read before it can scale to zero.
	wantSidecar := []string{`http_server_request_duration_seconds_bucket{`, `flywheel_revision="` + rev + `"`, `flywheel_queue_requests_total{`}
	var sidecar string
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sidecar = scrapeRevisionPod(ctx, ns, rev)
		return containsAll(sidecar, wantSidecar), nil
	}); err != nil {
		t.Errorf("the queue-proxy's metrics lack %q; they were:\n%s", wantSidecar, tail(sidecar, 40))
	}

	createBroker(t, client, ns, "default", nil)
	subscriber := duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "measured"}}
	if _, err := client.EventingV1().Triggers(ns).Create(ctx, trigger(ns, "measured", "default", nil, subscriber, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTriggerReady(t, client, ns, "measured")
	sendEvent(t, ns, "default", newEvent("measured-1", "com.example.measured", `{}`), false)

	for component, wants := range map[string][]string{
		// The Route's HTTPRoute for its public host is named after it.
		"gateway":   {`http_server_request_duration_seconds_bucket{`, `flywheel_route="` + ns + "/" + ready.Status.URL.Host + `"`, `http_response_status_code="200"`},
		"activator": {`flywheel_activator_queue_depth{`, `flywheel_revision="` + rev + `"`},
		// knative.dev/pkg's work-queue figures of the reconcilers.
		"controller":     {"kn_workqueue_adds_total{"},
		"webhook":        {"# TYPE "},
		"autoscaler":     {`flywheel_autoscaler_desired_pods{`, `flywheel_autoscaler_actual_pods{`, `flywheel_revision="` + rev + `"`},
		"broker-ingress": {`flywheel_eventing_ingress_events_total{`, `flywheel_broker="default"`, `http_response_status_code="202"`},
		// Whatever the delivery's outcome, it is counted for the Trigger.
		"broker-dispatcher": {`flywheel_eventing_dispatch_events_total{`, `flywheel_trigger="measured"`, `flywheel_eventing_dispatch_duration_seconds_bucket{`},
	} {
		var last string
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			last = scrapeComponent(ctx, t, component)
			return containsAll(last, wants), nil
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
		return scrape(ctx, "http://"+net.JoinHostPort(p.Status.PodIP, "9090")+"/metrics")
	}
	return "no running pod of " + component
}

// scrapeRevisionPod reads /metrics on the sidecar's metrics port of a
// running pod of the Revision.
func scrapeRevisionPod(ctx context.Context, ns, rev string) string {
	pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: serving.RevisionLabel.String() + "=" + rev,
	})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
			continue
		}
		return scrape(ctx, "http://"+net.JoinHostPort(p.Status.PodIP, strconv.Itoa(queue.MetricsPort))+queue.MetricsPath)
	}
	return "no running pod of Revision " + rev
}

func scrape(ctx context.Context, url string) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return string(b)
}

func containsAll(s string, wants []string) bool {
	for _, w := range wants {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
