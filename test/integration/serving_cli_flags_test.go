//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
)

// TestCLIKnFlags creates a Service with kn's flags for what a pod needs
// besides an image (command, variables from a ConfigMap and a Secret, a
// mounted ConfigMap, resources, probes, a user, a service account,
// labels, scale), and checks that the webhook accepts what fw sends and
// that the Revision's pods get it. Then it changes the Service, whose
// revision was named, without naming the next: the update must not be
// refused for reusing the name.
func TestCLIKnFlags(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "cli-flags")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	if _, err := cluster.Kube.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(envFile, []byte("# from a file\nMODE=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out := fw(t, "service", "create", "flags", "-n", ns, "--no-wait",
		"--image", "ko://flywheel.dev/examples/hello", "--revision-name", "{{.Service}}-v{{.Generation}}",
		"--cmd", "/ko-app/hello", "--arg", "--verbose",
		"--env-file", envFile, "--env-from", "cm:settings", "--env-value-from", "TOKEN=secret:creds:token",
		"--mount", "/etc/settings=cm:settings", "--volume", "scratch=ed:", "--mount", "/scratch=scratch",
		"--request", "cpu=100m,memory=64Mi", "--limit", "memory=128Mi",
		"--probe-readiness", "http::8080:/healthz", "--probe-readiness-opts", "PeriodSeconds=2",
		"--probe-liveness", "tcp::8080",
		"--user", "1001", "--service-account", "reader", "--timeout", "60",
		"--label", "team=web", "--label-revision", "canary=yes", "--annotation-service", "owner=ops",
		"--scale", "1..3", "--scale-window", "2m", "--cluster-local")
	if !strings.Contains(out, "Created Service flags") {
		t.Fatalf("fw service create printed:\n%s", out)
	}

	dep := waitFor(t, "the Deployment of flags-v1", func(ctx context.Context) (*appsv1.Deployment, error) {
		return cluster.Kube.AppsV1().Deployments(ns).Get(ctx, "flags-v1-deployment", metav1.GetOptions{})
	})
	pod := dep.Spec.Template
	if pod.Labels["team"] != "web" || pod.Labels["canary"] != "yes" {
		t.Errorf("pod labels = %v, want team=web and canary=yes", pod.Labels)
	}
	if pod.Spec.ServiceAccountName != "reader" {
		t.Errorf("service account = %q, want reader", pod.Spec.ServiceAccountName)
	}
	var app corev1.Container
	for _, c := range pod.Spec.Containers {
		if c.Image != "" && strings.Contains(c.Image, "examples/hello") {
			app = c
		}
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"command", app.Command, []string{"/ko-app/hello"}},
		{"args", app.Args, []string{"--verbose"}},
		{"envFrom", app.EnvFrom, []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}},
		{"requests", app.Resources.Requests, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
		{"limits", app.Resources.Limits, corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}},
		// --user, and kn's default --security-context strict for a new
		// Service, through the real webhook's defaults.
		{"securityContext", app.SecurityContext, &corev1.SecurityContext{
			RunAsUser:                ptr.To[int64](1001),
			RunAsNonRoot:             ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("the app container's %s (-want, +got):\n%s", c.what, diff)
		}
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range app.Env {
		env[e.Name] = e
	}
	if env["MODE"].Value != "file" || env["TOKEN"].ValueFrom == nil || env["TOKEN"].ValueFrom.SecretKeyRef == nil {
		t.Errorf("env = %v, want MODE=file from the file and TOKEN from secret creds", app.Env)
	}
	mounts := map[string]bool{}
	for _, m := range app.VolumeMounts {
		mounts[m.MountPath] = true
	}
	if !mounts["/etc/settings"] || !mounts["/scratch"] {
		t.Errorf("volume mounts = %v, want /etc/settings and /scratch", app.VolumeMounts)
	}
	if app.LivenessProbe == nil || app.LivenessProbe.TCPSocket == nil {
		t.Errorf("liveness probe = %+v, want a TCP check", app.LivenessProbe)
	}

	svc, err := client.ServingV1().Services(ns).Get(ctx, "flags", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Labels["networking.knative.dev/visibility"] != "cluster-local" || svc.Annotations["owner"] != "ops" {
		t.Errorf("Service labels %v and annotations %v, want cluster-local and owner=ops", svc.Labels, svc.Annotations)
	}
	if ann := svc.Spec.Template.Annotations; ann["autoscaling.knative.dev/min-scale"] != "1" ||
		ann["autoscaling.knative.dev/max-scale"] != "3" || ann["autoscaling.knative.dev/window"] != "2m" {
		t.Errorf("template annotations = %v, want min-scale 1, max-scale 3, window 2m", ann)
	}
	if p := svc.Spec.Template.Spec.Containers[0].ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.PeriodSeconds != 2 {
		t.Errorf("readiness probe = %+v, want GET /healthz every 2 s", p)
	}

	// The revision was named; a change without --revision-name lets the
	// server name the next one instead of being refused.
	out = fw(t, "service", "update", "flags", "-n", ns, "--no-wait", "--env", "MODE=flag", "--mount", "/scratch-", "--volume", "scratch-")
	if !strings.Contains(out, "Updated Service flags") {
		t.Fatalf("fw service update printed:\n%s", out)
	}
	waitForCondition(t, "a second Revision of flags", func(ctx context.Context) (*corev1.ObjectReference, error) {
		cfg, err := client.ServingV1().Configurations(ns).Get(ctx, "flags", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &corev1.ObjectReference{Name: cfg.Status.LatestCreatedRevisionName}, nil
	}, func(r *corev1.ObjectReference) bool { return r.Name == "flags-00002" })

	// --force replaces the Service from a file; the webhook refuses a
	// change of who created it, so fw must keep that record.
	file := filepath.Join(t.TempDir(), "flags.yaml")
	manifest := "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: flags\nspec:\n  template:\n    spec:\n      containers:\n      - image: ko://flywheel.dev/examples/hello\n"
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	out = fw(t, "service", "create", "flags", "-n", ns, "--no-wait", "--force", "-f", file, "--env", "MODE=replaced")
	if !strings.Contains(out, "Replaced Service flags") {
		t.Fatalf("fw service create --force printed:\n%s", out)
	}
	replaced, err := client.ServingV1().Services(ns).Get(ctx, "flags", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := replaced.Spec.Template.Spec.Containers[0]; len(c.VolumeMounts) != 0 || len(c.Env) != 1 || replaced.Labels["team"] != "" {
		t.Errorf("after --force the Service still has what the file does not say: labels %v, container %+v", replaced.Labels, c)
	}
}

// TestCLIExportReplays exports a Service of two Revisions with a split
// (fw service export --with-revisions --mode replay) and applies the
// list, in order, in another namespace: the webhook accepts each
// Service, the Revisions come back under their names, and the last
// Service's split names them.
func TestCLIExportReplays(t *testing.T) {
	needController(t)
	ctx := t.Context()
	from, to := newNamespace(t, "cli-export"), newNamespace(t, "cli-replay")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	latestCreated := func(ns, name string) string {
		return waitForCondition(t, "a second Revision of "+ns+"/"+name, func(ctx context.Context) (string, error) {
			cfg, err := client.ServingV1().Configurations(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return cfg.Status.LatestCreatedRevisionName, nil
		}, func(name string) bool { return strings.HasSuffix(name, "-00002") })
	}

	fw(t, "service", "create", "exp", "-n", from, "--no-wait", "--image", "ko://flywheel.dev/examples/hello", "--scale-min", "1")
	fw(t, "service", "update", "exp", "-n", from, "--no-wait", "--env", "TARGET=v2")
	latestCreated(from, "exp")
	fw(t, "service", "update", "exp", "-n", from, "--no-wait", "--tag", "exp-00001=old", "--traffic", "old=30,@latest=70")
	manifest := fw(t, "service", "export", "exp", "-n", from, "--with-revisions", "--mode", "replay")

	var list struct {
		APIVersion string          `json:"apiVersion"`
		Kind       string          `json:"kind"`
		Metadata   metav1.ListMeta `json:"metadata"`
		Items      []servingv1.Service
	}
	if err := yaml.UnmarshalStrict([]byte(manifest), &list); err != nil || list.Kind != "List" || len(list.Items) != 2 {
		t.Fatalf("the export is not a List of two Services (%v):\n%s", err, manifest)
	}
	for i, item := range list.Items {
		item.Namespace = to
		if i == 0 {
			if _, err := client.ServingV1().Services(to).Create(ctx, &item, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating the first Service of the export: %v", err)
			}
			// The next Service replaces the template: its Revision must
			// exist first, as the docs say.
			waitFor(t, "Revision exp-00001 of the replay", func(ctx context.Context) (*servingv1.Revision, error) {
				return client.ServingV1().Revisions(to).Get(ctx, "exp-00001", metav1.GetOptions{})
			})
			continue
		}
		// As kubectl apply would: the spec, and the server's record of
		// who created the Service kept; again when the controller wrote
		// the Service in between.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live, err := client.ServingV1().Services(to).Get(ctx, "exp", metav1.GetOptions{})
			if err != nil {
				return err
			}
			live.Spec = item.Spec
			_, err = client.ServingV1().Services(to).Update(ctx, live, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("applying Service %d of the export: %v", i+1, err)
		}
	}
	if got := latestCreated(to, "exp"); got != "exp-00002" {
		t.Errorf("the replay's latest Revision is %s, want exp-00002", got)
	}
	for _, name := range []string{"exp-00001", "exp-00002"} {
		rev, err := client.ServingV1().Revisions(to).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("the replay made no Revision %s: %v", name, err)
			continue
		}
		if ann := rev.Annotations["autoscaling.knative.dev/min-scale"]; ann != "1" {
			t.Errorf("Revision %s of the replay has min-scale %q, want 1 as the original", name, ann)
		}
	}
	replayed, err := client.ServingV1().Services(to).Get(ctx, "exp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	original, err := client.ServingV1().Services(from).Get(ctx, "exp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(original.Spec.Traffic, replayed.Spec.Traffic); diff != "" {
		t.Errorf("the replay's split (-original, +replay):\n%s", diff)
	}
}

// TestCLIApplyDeclares runs fw service apply against the real API server
// and its webhook: the same declaration again makes no new generation
// (the webhook's defaults do not count as a change), a declaration that
// drops a variable and the port drops them, and what fw service update
// set beside it stays.
func TestCLIApplyDeclares(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "cli-apply")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	get := func() *servingv1.Service {
		t.Helper()
		svc, err := client.ServingV1().Services(ns).Get(ctx, "decl", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	declaration := []string{"service", "apply", "decl", "-n", ns, "--no-wait", "--image", "ko://flywheel.dev/examples/hello",
		"--env", "A=1", "--env", "B=2", "--port", "8080", "--scale-max", "3"}

	if out := fw(t, declaration...); !strings.Contains(out, "Created Service decl") {
		t.Fatalf("the first apply printed:\n%s", out)
	}
	first := get()
	if out := fw(t, declaration...); !strings.Contains(out, "Nothing to change in Service decl") {
		t.Errorf("the same apply again printed:\n%s", out)
	}
	if again := get(); again.Generation != first.Generation {
		t.Errorf("the same apply again moved the generation from %d to %d", first.Generation, again.Generation)
	}

	fw(t, "service", "update", "decl", "-n", ns, "--no-wait", "--annotation-service", "team=web")
	fw(t, "service", "apply", "decl", "-n", ns, "--no-wait", "--image", "ko://flywheel.dev/examples/hello", "--env", "A=1", "--scale-max", "3")
	now := get()
	c := now.Spec.Template.Spec.Containers[0]
	if len(c.Env) != 1 || c.Env[0].Name != "A" || len(c.Ports) != 0 {
		t.Errorf("after an apply without B and the port, the container has env %v and ports %v", c.Env, c.Ports)
	}
	if now.Annotations["team"] != "web" || now.Spec.Template.Annotations["autoscaling.knative.dev/max-scale"] != "3" {
		t.Errorf("the apply dropped what it should keep: annotations %v, template annotations %v", now.Annotations, now.Spec.Template.Annotations)
	}
}

// TestCLIMoreContainers builds two sidecars with fw container add, as a
// pipe would, and gives them to fw service create --containers: the
// webhook accepts the three containers, and the Revision's pods run them
// beside the queue-proxy.
func TestCLIMoreContainers(t *testing.T) {
	needController(t)
	ns := newNamespace(t, "cli-containers")
	list := fw(t, "container", "add", "proxy", "--image", "ko://flywheel.dev/examples/hello", "--env", "PORT_HINT=9000")
	file := filepath.Join(t.TempDir(), "containers.yaml")
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	fw(t, "service", "create", "multi", "-n", ns, "--no-wait", "--image", "ko://flywheel.dev/examples/hello", "--port", "8080", "--containers", file)

	dep := waitFor(t, "the Deployment of multi-00001", func(ctx context.Context) (*appsv1.Deployment, error) {
		return cluster.Kube.AppsV1().Deployments(ns).Get(ctx, "multi-00001-deployment", metav1.GetOptions{})
	})
	var names []string
	for _, c := range dep.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	// The webhook names the unnamed serving container user-container-0
	// when there are several.
	if !slices.Contains(names, "proxy") || !slices.Contains(names, "queue-proxy") || len(names) != 3 {
		t.Errorf("the pod runs containers %v, want the serving one, proxy and the queue-proxy", names)
	}
}
