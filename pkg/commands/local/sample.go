package local

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/commands/wait"
	"flywheel.dev/pkg/local"
)

// sampleReadyTimeout bounds each wait for the sample to become Ready. The
// first one builds the app and the sidecar from source.
const sampleReadyTimeout = 5 * time.Minute

// splitRequests is how many requests show the sample's traffic split.
const splitRequests = 20

// runSample waits for the sample Service to serve, calls it through the
// gateway, then makes a second Revision, splits traffic 50/50 between the
// two and shows where requests land.
func runSample(ctx context.Context, out io.Writer, fw *local.Flywheel, client versioned.Interface, svc *servingv1.Service) error {
	fmt.Fprintf(out, "\nWaiting for %s to become Ready (the first time, the node builds the app and the sidecar from source)...\n", svc.Name)
	ready, err := waitReady(ctx, fw, client, svc.Namespace, svc.Name, svc.Generation)
	if err != nil {
		return err
	}
	first := ready.Status.LatestReadyRevisionName
	fmt.Fprintf(out, "Service %s is Ready at %s (Revision %s).\n", ready.Name, localURL(ready, fw), first)
	body, err := get(ctx, fw, ready)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  $ curl -H 'Host: %s' http://%s/\n  %s\n", ready.Status.URL.Host, fw.GatewayAddr, strings.TrimSpace(body))

	fmt.Fprintf(out, "\nA second Revision with TARGET=%s, and traffic split 50/50 with %s...\n", "again", first)
	var updated *servingv1.Service
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := client.ServingV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c := &s.Spec.Template.Spec.Containers[0]
		c.Env = append(slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "TARGET" }),
			corev1.EnvVar{Name: "TARGET", Value: "again"})
		s.Spec.Traffic = []servingv1.TrafficTarget{
			{RevisionName: first, Percent: ptr.To[int64](50)},
			{LatestRevision: ptr.To(true), Percent: ptr.To[int64](50)},
		}
		updated, err = client.ServingV1().Services(svc.Namespace).Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("updating the sample: %w", err)
	}
	if ready, err = waitReady(ctx, fw, client, svc.Namespace, svc.Name, updated.Generation); err != nil {
		return err
	}
	counts := map[string]int{}
	for range splitRequests {
		body, err := get(ctx, fw, ready)
		if err != nil {
			return err
		}
		counts[strings.TrimSpace(body)]++
	}
	fmt.Fprintf(out, "%d requests to %s:\n", splitRequests, localURL(ready, fw))
	for _, answer := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(out, "  %2d × %s\n", counts[answer], answer)
	}
	return nil
}

// callKeptSample waits for a sample Service kept from an earlier run to
// serve again, its pods having been started anew, and calls it once.
func callKeptSample(ctx context.Context, out io.Writer, fw *local.Flywheel, client versioned.Interface, svc *servingv1.Service) error {
	ready, err := waitReady(ctx, fw, client, svc.Namespace, svc.Name, svc.Generation)
	if err != nil {
		return err
	}
	body, err := get(ctx, fw, ready)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Service %s is Ready at %s (Revision %s).\n  $ curl -H 'Host: %s' http://%s/\n  %s\n",
		ready.Name, localURL(ready, fw), ready.Status.LatestReadyRevisionName, ready.Status.URL.Host, fw.GatewayAddr, strings.TrimSpace(body))
	return nil
}

// waitReady waits for the Service to be Ready at generation, and says
// where to look when it is not.
func waitReady(ctx context.Context, fw *local.Flywheel, client versioned.Interface, ns, name string, generation int64) (*servingv1.Service, error) {
	s, err := wait.ForServiceReady(ctx, client.ServingV1(), ns, name, generation, wait.For(sampleReadyTimeout))
	if err != nil {
		return nil, fmt.Errorf("%w\nlogs: %s (controller.log, node.log, gateway.log, node/pods/)", err, fw.WorkDir())
	}
	return s, nil
}

// localURL is the Service's URL with the gateway's port: the host names a
// loopback address (local.LocalDomain), the port is where the gateway is.
func localURL(s *servingv1.Service, fw *local.Flywheel) string {
	_, port, _ := net.SplitHostPort(fw.GatewayAddr)
	return "http://" + net.JoinHostPort(s.Status.URL.Host, port) + "/"
}

// get sends a request for the Service's host to the gateway, as curl with
// a Host header would: Go's resolver does not map *.localhost to loopback.
func get(ctx context.Context, fw *local.Flywheel, s *servingv1.Service) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+fw.GatewayAddr+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = s.Status.URL.Host
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("calling %s through the gateway: %w (gateway log: %s)", s.Status.URL, err, filepath.Join(fw.WorkDir(), "gateway.log"))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("calling %s through the gateway: %s: %s (gateway log: %s)", s.Status.URL, resp.Status, strings.TrimSpace(string(b)), filepath.Join(fw.WorkDir(), "gateway.log"))
	}
	return string(b), nil
}
