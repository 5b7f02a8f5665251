//go:build integration

package integration

import (
	"bytes"
	"context"
	"strings"
	"testing"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/commands"
)

// fwRun is a run of `fw` in this process, through the root command as
// the binary builds it, against the test cluster's kubeconfig.
type fwRun struct {
	out  bytes.Buffer
	err  error
	done chan struct{}
}

// startFW runs `fw args... --kubeconfig <the cluster's>` in the
// background, so that the test can play the kubelet meanwhile.
func startFW(ctx context.Context, args ...string) *fwRun {
	r := &fwRun{done: make(chan struct{})}
	root := commands.NewRootCommand(commands.NewParams())
	root.SetArgs(append(args, "--kubeconfig", cluster.ControlPlane.KubeconfigPath))
	root.SetOut(&r.out)
	root.SetErr(&r.out)
	// Nothing to read: the test process's own input is not the command's.
	root.SetIn(strings.NewReader(""))
	go func() {
		defer close(r.done)
		r.err = root.ExecuteContext(ctx)
	}()
	return r
}

// wait returns what the command printed, failing the test if it failed.
func (r *fwRun) wait(t *testing.T) string {
	t.Helper()
	<-r.done
	if r.err != nil {
		t.Fatalf("fw failed: %v\noutput:\n%s\ncontroller log:\n%s", r.err, r.out.String(), tail(cluster.Log("controller"), 20))
	}
	return r.out.String()
}

func fw(t *testing.T, args ...string) string {
	t.Helper()
	return startFW(t.Context(), args...).wait(t)
}

// TestCLI drives a Service's life through `fw` as a user would: create
// and wait for its URL, split its traffic with tags, list its revisions
// as JSON, and delete it; and a create that fails says why.
func TestCLI(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "cli")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	url := "http://hello." + ns + ".example.com"

	// fw service create waits while the test plays the kubelet and the
	// gateway, then prints the URL.
	create := startFW(ctx, "service", "create", "hello", "-n", ns,
		"--image", "ko://flywheel.dev/examples/hello", "--env", "TARGET=v1", "--wait-timeout", "2m")
	actAsKubelet(t, ns, "hello-00001", runningAndReady)
	acceptHTTPRoutes(t, ns)
	out := create.wait(t)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); lines[len(lines)-1] != url {
		t.Errorf("fw service create printed:\n%s\nwant its last line to be the URL %s", out, url)
	}

	// fw service update tags both revisions and splits 90/10.
	update := startFW(ctx, "service", "update", "hello", "-n", ns, "--env", "TARGET=v2",
		"--tag", "hello-00001=stable,@latest=candidate", "--traffic", "stable=90,candidate=10", "--wait-timeout", "2m")
	actAsKubelet(t, ns, "hello-00002", runningAndReady)
	out = update.wait(t)
	if !strings.Contains(out, "Updated Service hello") || !strings.HasSuffix(out, url+"\n") {
		t.Errorf("fw service update printed:\n%s", out)
	}
	svc, err := client.ServingV1().Services(ns).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]int64{}
	for _, tt := range svc.Status.Traffic {
		served[tt.Tag+"="+tt.RevisionName] = ptr.Deref(tt.Percent, 0)
	}
	if served["stable=hello-00001"] != 90 || served["candidate=hello-00002"] != 10 || len(served) != 2 {
		t.Errorf("served traffic = %v, want stable=hello-00001 at 90 and candidate=hello-00002 at 10", served)
	}
	describe := fw(t, "service", "describe", "hello", "-n", ns)
	for _, want := range []string{"90%", "hello-00001", "stable", "10%", "@latest (hello-00002)", "candidate", "http://candidate-hello." + ns + ".example.com"} {
		if !strings.Contains(describe, want) {
			t.Errorf("fw service describe does not show %q:\n%s", want, describe)
		}
	}

	// fw revision list -o json lists both, as the API has them.
	var revs servingv1.RevisionList
	if err := yaml.UnmarshalStrict([]byte(fw(t, "revision", "list", "-n", ns, "-o", "json")), &revs); err != nil {
		t.Fatalf("fw revision list -o json: %v", err)
	}
	var names []string
	for _, r := range revs.Items {
		names = append(names, r.Name)
		if r.Kind != "Revision" || len(r.Status.ContainerStatuses) == 0 || r.Status.ContainerStatuses[0].ImageDigest == "" {
			t.Errorf("revision %s: kind %q, container statuses %v; want a Revision with its digest", r.Name, r.Kind, r.Status.ContainerStatuses)
		}
	}
	if strings.Join(names, ",") != "hello-00002,hello-00001" || revs.Kind != "RevisionList" {
		t.Errorf("fw revision list -o json = %s of %v, want a RevisionList of hello-00002,hello-00001", revs.Kind, names)
	}

	// fw service delete --wait returns once the Service is gone.
	out = fw(t, "service", "delete", "hello", "-n", ns, "--wait")
	if !strings.Contains(out, "Deleted Service hello") {
		t.Errorf("fw service delete printed:\n%s", out)
	}
	if _, err := client.ServingV1().Services(ns).Get(ctx, "hello", metav1.GetOptions{}); !apierrs.IsNotFound(err) {
		t.Errorf("after fw service delete --wait, getting the Service = %v, want not found", err)
	}

	// A Service whose app crashes: fw says why and fails.
	crash := startFW(ctx, "service", "create", "crasher", "-n", ns, "--image", "ko://flywheel.dev/examples/hello", "--wait-timeout", "2m")
	actAsKubelet(t, ns, "crasher-00001", crashLooping(3, "panic: no DATABASE_URL"))
	<-crash.done
	if crash.err == nil {
		t.Fatalf("fw service create of a crashing app succeeded:\n%s", crash.out.String())
	}
	for _, want := range []string{"Service crasher failed", "Revision crasher-00001", "exit code 3", "panic: no DATABASE_URL"} {
		if !strings.Contains(crash.err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, crash.err)
		}
	}
}
