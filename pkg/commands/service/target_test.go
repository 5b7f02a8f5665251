package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/commandstest"
)

// readTarget reads the Service a --target run wrote to path.
func readTarget(t *testing.T, path string) *servingv1.Service {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{"status:", "creationTimestamp", "generation"} {
		if strings.Contains(string(b), server) {
			t.Errorf("%s holds %q, which the server sets:\n%s", path, server, b)
		}
	}
	var svc servingv1.Service
	if err := yaml.UnmarshalStrict(b, &svc); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	if svc.APIVersion != "serving.knative.dev/v1" || svc.Kind != "Service" {
		t.Errorf("%s holds apiVersion %q, kind %q", path, svc.APIVersion, svc.Kind)
	}
	return &svc
}

// TestTargetDirectoryWorksOnFiles runs kn's --target verbs on a
// directory: each Service is a YAML file at NAMESPACE/ksvc/NAME.yaml,
// nothing reaches the cluster and nothing is waited for.
func TestTargetDirectoryWorksOnFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	p, client := commandstest.NewParams(t)
	fw := func(args ...string) string {
		t.Helper()
		// As a new fw would start: -n given before does not stick.
		p.Namespace = ns
		out, err := commandstest.Run(t, NewServiceCommand(p), append(args, "--target", dir)...)
		if err != nil {
			t.Fatalf("fw service %v: %v\n%s", args, err, out)
		}
		return out
	}
	file := filepath.Join(dir, ns, "ksvc", "hello.yaml")

	out := fw("create", "hello", "--image", "ko://example.com/hello", "--env", "A=1")
	if want := "Created Service hello in namespace demo, in " + file + ".\n"; out != want {
		t.Errorf("create printed %q, want %q", out, want)
	}
	svc := readTarget(t, file)
	c := svc.Spec.Template.Spec.Containers[0]
	if svc.Name != "hello" || svc.Namespace != ns || c.Image != "ko://example.com/hello" || len(c.Env) != 1 || c.SecurityContext == nil {
		t.Errorf("the file holds %+v", svc)
	}
	if out, err := commandstest.Run(t, NewServiceCommand(p), "create", "hello", "--image", "ko://example.com/hello", "--target", dir); err == nil {
		t.Errorf("creating hello again succeeded:\n%s", out)
	}

	out = fw("update", "hello", "--env", "B=2")
	if want := "Updated Service hello in namespace demo, in " + file + ".\n"; out != want {
		t.Errorf("update printed %q, want %q (no note on locking to a digest)", out, want)
	}
	want := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}
	if diff := cmp.Diff(want, readTarget(t, file).Spec.Template.Spec.Containers[0].Env); diff != "" {
		t.Errorf("env after update (-want, +got):\n%s", diff)
	}

	fw("apply", "applied", "--image", "ko://example.com/hello", "--env", "C=3", "-n", "other")
	if out := fw("apply", "applied", "--image", "ko://example.com/hello", "--env", "C=3", "-n", "other"); !strings.HasPrefix(out, "Nothing to change in Service applied") {
		t.Errorf("applying the same again printed %q", out)
	}
	fw("apply", "applied", "--image", "ko://example.com/hello", "-n", "other")
	if env := readTarget(t, filepath.Join(dir, "other", "ksvc", "applied.yaml")).Spec.Template.Spec.Containers[0].Env; len(env) != 0 {
		t.Errorf("apply without --env left env %v", env)
	}

	out = fw("list", "-A")
	checkContains(t, "list -A", out, "demo", "hello", "other", "applied")
	if out := fw("list"); strings.Contains(out, "applied") {
		t.Errorf("list in namespace demo shows another namespace's Service:\n%s", out)
	}
	checkContains(t, "describe", fw("describe", "hello"), "hello", "none yet")

	fw("delete", "hello")
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("after delete, %s: %v", file, err)
	}
	if _, err := commandstest.Run(t, NewServiceCommand(p), "describe", "hello", "-n", ns, "--target", dir); err == nil {
		t.Error("describe found the deleted Service")
	}
	if w := writes(client); len(w) > 0 {
		t.Errorf("--target sent %v to the cluster", w)
	}
}

// TestTargetFileHoldsOneService runs --target on one JSON file.
func TestTargetFileHoldsOneService(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hello.json")
	p, _ := commandstest.NewParams(t)
	run := func(args ...string) (string, error) {
		return commandstest.Run(t, NewServiceCommand(p), append(args, "--target", file)...)
	}
	if out, err := run("create", "hello", "--image", "ko://example.com/hello"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(b), "{\n") {
		t.Fatalf("%s is not indented JSON (%v):\n%s", file, err, b)
	}
	if _, err := run("create", "bye", "--image", "ko://example.com/bye"); err == nil || !strings.Contains(err.Error(), "holds Service hello") {
		t.Errorf("a second Service in the file: error %v, want it to say the file holds Service hello", err)
	}
	if _, err := run("update", "bye", "--env", "A=1"); err == nil || !strings.Contains(err.Error(), "no Service bye") {
		t.Errorf("updating a Service the file does not hold: error %v", err)
	}
	if out, err := run("update", "hello", "--scale-min", "1"); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if got := readTarget(t, file).Spec.Template.Annotations["autoscaling.knative.dev/min-scale"]; got != "1" {
		t.Errorf("min-scale after update = %q, want 1", got)
	}
	out, err := run("list")
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "list", out, "hello")
}
