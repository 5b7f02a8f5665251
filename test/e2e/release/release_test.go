//go:build e2e

// Package release tests a release end to end: hack/release.sh into a
// registry on loopback, then a local cluster brought up from the
// flywheel.yaml it wrote, whose node pulls every component from that
// registry, serving a Knative Service. It runs a cluster of its own, apart
// from test/e2e's.
package release

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	fwwait "flywheel.dev/pkg/commands/wait"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/controlplane/controlplanetest"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/imagetest"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/release"
	"flywheel.dev/pkg/release/releasetest"
)

// workDir holds the cluster's logs and the node's state, removed after
// the test; fixed, so that what a killed run left is swept by the next
// (and by hack/test.sh).
var workDir = filepath.Join(os.TempDir(), "flywheel-e2e-release")

// TestLocalClusterFromARelease releases for this machine's platform into
// a registry on loopback, brings a local cluster up from the resulting
// flywheel.yaml alone, and checks that every component pod runs the
// very image the release names (the node reports it pulled that digest),
// and that a Knative Service, itself a registry image, answers through
// the gateway with its queue-proxy sidecar the release's image.
func TestLocalClusterFromARelease(t *testing.T) {
	bin, err := controlplanetest.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	host := imagetest.Registry(t, "", "")
	objs := releasetest.Run(t, host+"/flywheel", []string{"linux/" + runtime.GOARCH})
	images := map[string]bool{}
	for _, image := range release.Images(objs) {
		images[image] = true
	}

	exe, err := imagetest.BuildStatic("flywheel.dev/examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	hello, err := imagetest.StaticImage("hello", exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := imagetest.Push(host+"/samples/hello:v1", hello); err != nil {
		t.Fatal(err)
	}

	nodeDir := filepath.Join(workDir, "node")
	if err := node.Sweep(nodeDir); err != nil {
		t.Fatalf("sweeping what an earlier run left: %v", err)
	}
	if err := os.RemoveAll(workDir); err != nil {
		t.Fatal(err)
	}
	// Registered first, so run last: after the cluster stopped.
	t.Cleanup(func() {
		if err := node.Sweep(nodeDir); err != nil {
			t.Errorf("sweeping the node's state: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(workDir, "node.log"))
			t.Logf("the node's log, last lines:\n%s", tail(string(b), 40))
		}
		if err := os.RemoveAll(workDir); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cluster, err := local.Up(ctx, local.Options{
		ControlPlane:   controlplane.Options{BinDir: bin, ControllerManager: true},
		Controller:     true,
		Node:           true,
		GatewayAddress: "127.0.0.1:0",
		WorkDir:        workDir,
		Release:        objs,
	})
	if err != nil {
		t.Fatalf("bringing the local cluster up from flywheel.yaml: %v", err)
	}
	t.Cleanup(cluster.Stop)
	t.Logf("local cluster up from flywheel.yaml in %v", time.Since(start).Round(time.Second))

	pods, err := cluster.Kube.CoreV1().Pods(local.SystemNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if !images[cs.Image] {
				t.Errorf("pod %s container %s runs %s, not an image of the release", p.Name, cs.Name, cs.Image)
			}
			if cs.ImageID != cs.Image {
				t.Errorf("pod %s container %s: the node ran %q, want the release's digest %s", p.Name, cs.Name, cs.ImageID, cs.Image)
			}
			ran[cs.Image] = true
		}
	}
	// Every component runs; the queue-proxy and the ApiServerSource
	// adapter run only beside Revisions and for sources.
	for image := range images {
		if !ran[image] && !strings.Contains(image, "/cmd/queue@") && !strings.Contains(image, "/cmd/apiserversource-adapter@") {
			t.Errorf("no pod of %s runs %s", local.SystemNamespace, image)
		}
	}

	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Image: host + "/samples/hello:v1",
				Env:   []corev1.EnvVar{{Name: "TARGET", Value: "release"}},
			}}}},
		}}},
	}
	created, err := client.ServingV1().Services("default").Create(t.Context(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready, err := fwwait.ForServiceReady(t.Context(), client.ServingV1(), "default", "hello", created.Generation, fwwait.For(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, cluster.GatewayAddr, ready.Status.URL.Host)
	if code != http.StatusOK || !strings.HasPrefix(body, "Hello release!") {
		t.Errorf("GET http://%s/ through the gateway: %d %q, want 200 and the sample's greeting", ready.Status.URL.Host, code, body)
	}

	revPods, err := cluster.Kube.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sidecars := 0
	for _, p := range revPods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name != queue.ContainerName {
				continue
			}
			sidecars++
			if !images[cs.Image] || !strings.Contains(cs.Image, "/cmd/queue@") || cs.ImageID != cs.Image {
				t.Errorf("pod %s's sidecar runs %s (image ID %s), want the release's queue-proxy", p.Name, cs.Image, cs.ImageID)
			}
		}
	}
	if sidecars == 0 {
		t.Error("no Revision pod with a queue-proxy sidecar in namespace default")
	}
}

// get sends a GET for host to the gateway at addr and returns the status
// and body.
func get(t *testing.T, addr, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET http://%s/ through the gateway: %v", host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
