//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
		{"user", app.SecurityContext.RunAsUser, ptr.To[int64](1001)},
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
