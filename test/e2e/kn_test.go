//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/repo"
)

// stockKn runs the stock Knative client, kn v0.42 (Knative 1.15), built
// from its pinned module (third_party/kn) by hack/tool.sh, against the
// cluster. Its home is a directory of the test's, so no kn configuration
// or plugin of the machine's takes part.
type stockKn struct {
	bin, home string
}

func newStockKn(t *testing.T) *stockKn {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), filepath.Join(root, "hack", "tool.sh"), "kn")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/tool.sh kn: %v", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("kn: built, or waited for its build, in %v", waited.Round(time.Second))
	}
	return &stockKn{bin: strings.TrimSpace(string(out)), home: t.TempDir()}
}

// run runs kn with args and returns what it printed, failing the test if
// it failed.
func (k *stockKn) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.output(t.Context(), args...)
	if err != nil {
		t.Fatalf("kn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k *stockKn) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, k.bin, append(args, "--kubeconfig", cluster.ControlPlane.KubeconfigPath)...)
	cmd.Env = []string{"HOME=" + k.home, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestStockKnWorksUnchanged drives Flywheel with the stock kn as a Knative
// user would: a Service created, updated (a new Revision, then a tag and
// a traffic split) and described, another applied twice; a Broker and a
// Trigger; one source of each kind, whose events (but the PingSource's,
// a minute away, which TestSourcesSendToTheirSinks waits for) reach the
// Service; the sources listed, described, updated and deleted. kn of
// Knative 1.15 writes PingSources as sources.knative.dev/v1beta2, which
// Flywheel serves beside v1 as Knative does.
func TestStockKnWorksUnchanged(t *testing.T) {
	kn := newStockKn(t)
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "kn")

	// kn service create and update wait for the Service to be Ready.
	out := kn.run(t, "service", "create", "recorder", "-n", ns, "--image", recorderImage, "--scale-min", "1")
	if !strings.Contains(out, "recorder-00001") || !strings.Contains(out, "is available at URL") {
		t.Errorf("kn service create printed:\n%s", out)
	}
	out = kn.run(t, "service", "update", "recorder", "-n", ns, "--env", "CREATED_BY=kn")
	if !strings.Contains(out, "recorder-00002") {
		t.Errorf("kn service update printed:\n%s", out)
	}
	out = kn.run(t, "revision", "list", "-s", "recorder", "-n", ns)
	if !strings.Contains(out, "recorder-00001") || !strings.Contains(out, "recorder-00002") {
		t.Errorf("kn revision list printed:\n%s", out)
	}
	if out := kn.run(t, "service", "describe", "recorder", "-n", ns, "--verbose"); !strings.Contains(out, "CREATED_BY=kn") {
		t.Errorf("kn service describe printed:\n%s", out)
	}
	// A tag on the first Revision with a tenth of the traffic, then back.
	kn.run(t, "service", "update", "recorder", "-n", ns, "--tag", "recorder-00001=old", "--traffic", "old=10,@latest=90")
	rec, err := client.ServingV1().Services(ns).Get(t.Context(), "recorder", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tagged := slices.IndexFunc(rec.Status.Traffic, func(tt servingv1.TrafficTarget) bool { return tt.Tag == "old" })
	if tr := rec.Status.Traffic; len(tr) != 2 || tagged < 0 || tr[tagged].RevisionName != "recorder-00001" || tr[tagged].Percent == nil ||
		*tr[tagged].Percent != 10 || tr[tagged].URL == nil || tr[tagged].URL.Host != "old-recorder."+ns+".localhost" {
		t.Errorf("after kn service update --tag --traffic, the Service's traffic is %+v", tr)
	}
	kn.run(t, "service", "update", "recorder", "-n", ns, "--untag", "old", "--traffic", "@latest=100")
	// apply: the first creates, the same again changes nothing.
	if out := kn.run(t, "service", "apply", "applied", "-n", ns, "--image", recorderImage); !strings.Contains(out, "created") {
		t.Errorf("the first kn service apply printed:\n%s", out)
	}
	if out := kn.run(t, "service", "apply", "applied", "-n", ns, "--image", recorderImage); !strings.Contains(out, "No changes to apply") {
		t.Errorf("kn service apply, the same again, printed:\n%s", out)
	}
	kn.run(t, "service", "delete", "applied", "-n", ns)
	if rec, err = client.ServingV1().Services(ns).Get(t.Context(), "recorder", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	kn.run(t, "broker", "create", "default", "-n", ns)
	kn.run(t, "trigger", "create", "ticks", "-n", ns, "--broker", "default", "--sink", "ksvc:recorder", "--filter", "type=dev.knative.sources.ping")
	waitTriggerReady(t, client, ns, "ticks")

	grantConfigMapWatch(t, ns, "watcher")
	kn.run(t, "source", "ping", "create", "every-minute", "-n", ns, "--schedule", "* * * * *",
		"--data", `{"from":"kn"}`, "--sink", "broker:default", "--ce-override", "origin=ping")
	// No label selector: kn v0.42 panics describing or listing an
	// ApiServerSource that has one (its labelSelectorToString writes
	// into an empty slice), against Knative as against Flywheel.
	kn.run(t, "source", "apiserver", "create", "watcher", "-n", ns, "--resource", "ConfigMap:v1",
		"--service-account", "watcher", "--mode", "Resource", "--sink", "ksvc:recorder", "--ce-override", "origin=apiserver")
	kn.run(t, "source", "binding", "create", "bound", "-n", ns, "--subject", "Deployment:apps/v1:heartbeat",
		"--sink", "ksvc:recorder", "--ce-override", "origin=binding")
	kn.run(t, "source", "container", "create", "beats", "-n", ns, "--image", heartbeatImage, "--env", "PERIOD=500ms", "--sink", "ksvc:recorder")

	ping, err := client.SourcesV1().PingSources(ns).Get(t.Context(), "every-minute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := ping.Spec; s.Schedule != "* * * * *" || s.Data != `{"from":"kn"}` || s.Sink.Ref == nil || s.Sink.Ref.Kind != "Broker" ||
		s.CloudEventOverrides == nil || s.CloudEventOverrides.Extensions["origin"] != "ping" {
		t.Errorf("the PingSource kn wrote as v1beta2 reads as v1 %+v", s)
	}
	for _, get := range []func(context.Context) (duckv1.KRShaped, error){
		func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().PingSources(ns).Get(ctx, "every-minute", metav1.GetOptions{})
		},
		func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().ApiServerSources(ns).Get(ctx, "watcher", metav1.GetOptions{})
		},
		func(ctx context.Context) (duckv1.KRShaped, error) {
			return client.SourcesV1().ContainerSources(ns).Get(ctx, "beats", metav1.GetOptions{})
		},
	} {
		waitCondition(t, "a source kn made", get, apis.ConditionReady, corev1.ConditionTrue)
	}

	// The binding's subject and the watched ConfigMap come after their
	// sources, as a user would make them.
	createHeartbeat(t, ns)
	if _, err := cluster.Kube.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "watched", Namespace: ns},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// What each source sent, told apart by its overrides and its source.
	fromAPIServer := func(r record) bool {
		return r.Extensions["origin"] == "apiserver" && r.Type == "dev.knative.apiserver.resource.add" && strings.Contains(r.Data, `"name":"watched"`)
	}
	fromBinding := func(r record) bool {
		return r.Extensions["origin"] == "binding" && r.Type == "dev.flywheel.heartbeat" && strings.HasPrefix(r.Source, "/e2e/heartbeat/heartbeat-")
	}
	fromContainer := func(r record) bool {
		return r.Type == "dev.flywheel.heartbeat" && strings.HasPrefix(r.Source, "/e2e/heartbeat/beats-")
	}
	waitRecords(t, rec, "/", func(rs []record) bool {
		return slices.ContainsFunc(rs, fromAPIServer) && slices.ContainsFunc(rs, fromBinding) && slices.ContainsFunc(rs, fromContainer)
	})

	// The binding's status may follow its subject by a moment.
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		out, err = kn.output(ctx, "source", "list", "-n", ns)
		for _, name := range []string{"every-minute", "watcher", "bound", "beats"} {
			if row := tableRow(out, name); len(row) == 0 || row[len(row)-1] != "True" {
				return false, nil
			}
		}
		return err == nil, nil
	}); err != nil {
		t.Errorf("kn source list printed:\n%s\nwant every-minute, watcher, bound and beats Ready", out)
	}
	out = kn.run(t, "source", "list-types")
	for _, kind := range []string{"PingSource", "ApiServerSource", "SinkBinding", "ContainerSource"} {
		if !strings.Contains(out, kind) {
			t.Errorf("kn source list-types printed:\n%s\nwant %s", out, kind)
		}
	}
	if out := kn.run(t, "source", "apiserver", "describe", "watcher", "-n", ns); !strings.Contains(out, "ConfigMap (v1)") || !slices.Equal(tableRow(out, "EventMode:"), []string{"EventMode:", "Resource"}) {
		t.Errorf("kn source apiserver describe printed:\n%s", out)
	}

	kn.run(t, "source", "ping", "update", "every-minute", "-n", ns, "--schedule", "*/5 * * * *")
	if out := kn.run(t, "source", "ping", "describe", "every-minute", "-n", ns); !strings.Contains(out, "*/5 * * * *") {
		t.Errorf("kn source ping describe printed, after the update:\n%s", out)
	}
	ping, err = client.SourcesV1().PingSources(ns).Get(t.Context(), "every-minute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ping.Spec.Schedule != "*/5 * * * *" || ping.Spec.Data != `{"from":"kn"}` {
		t.Errorf("after kn source ping update --schedule, the PingSource's spec is %+v", ping.Spec)
	}
	// The webhook sees a v1beta2 request as v1 and refuses a bad schedule.
	if out, err := kn.output(t.Context(), "source", "ping", "create", "bad", "-n", ns, "--schedule", "every minute", "--sink", "ksvc:recorder"); err == nil || !strings.Contains(out, "spec.schedule") {
		t.Errorf("kn source ping create with a bad schedule: %v\n%s\nwant it refused naming spec.schedule", err, out)
	}

	for _, del := range [][]string{
		{"source", "ping", "delete", "every-minute"},
		{"source", "apiserver", "delete", "watcher"},
		{"source", "binding", "delete", "bound"},
		{"source", "container", "delete", "beats"},
		{"trigger", "delete", "ticks"},
		{"broker", "delete", "default"},
		{"service", "delete", "recorder"},
	} {
		kn.run(t, append(del, "-n", ns)...)
	}
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		out, err := kn.output(ctx, "source", "list", "-n", ns)
		return err == nil && !strings.Contains(out, "True") && !strings.Contains(out, "False"), nil
	}); err != nil {
		out, _ := kn.output(t.Context(), "source", "list", "-n", ns)
		t.Errorf("after kn deleted them, kn source list prints:\n%s", out)
	}
	if _, err := client.ServingV1().Services(ns).Get(t.Context(), "recorder", metav1.GetOptions{}); !apierrs.IsNotFound(err) {
		t.Errorf("after kn service delete, getting the Service: %v, want not found", err)
	}
}

// tableRow returns the fields of the row of a kn table whose first column
// is name, nil if there is none.
func tableRow(table, name string) []string {
	for line := range strings.Lines(table) {
		if fields := strings.Fields(line); len(fields) > 0 && fields[0] == name {
			return fields
		}
	}
	return nil
}
