package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/commandstest"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "service.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const serviceFile = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  labels:
    team: web
spec:
  template:
    spec:
      containers:
      - image: ko://example.com/hello
        env:
        - name: TARGET
          value: file
`

func TestCreateFromAFileThenTheFlags(t *testing.T) {
	out, client, err := run(t, nil, "create", "hello", "-f", writeFile(t, serviceFile), "--env", "DEBUG=1", "--scale", "1..3", "--no-wait")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	got := getService(t, client, "hello")
	if got.Labels["team"] != "web" {
		t.Errorf("labels = %v, want the file's team=web", got.Labels)
	}
	wantEnv := []corev1.EnvVar{{Name: "TARGET", Value: "file"}, {Name: "DEBUG", Value: "1"}}
	if diff := cmp.Diff(wantEnv, got.Spec.Template.Spec.Containers[0].Env); diff != "" {
		t.Errorf("env (-want, +got):\n%s", diff)
	}
	if v, _ := serving.MaxScaleAnnotation.Get(got.Spec.Template.Annotations); v != "3" {
		t.Errorf("template annotations = %v, want the flags' max-scale 3", got.Spec.Template.Annotations)
	}
}

func TestCreateFromAFileRefusesWhatDoesNotFit(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		args []string
		want string
	}{
		{"another name", serviceFile, []string{"create", "bye"}, "names the Service hello, but the command names it bye"},
		{"another kind", strings.Replace(serviceFile, "kind: Service", "kind: Route", 1), []string{"create", "hello"}, "holds a serving.knative.dev/v1 Route"},
		{"another namespace", strings.Replace(serviceFile, "name: hello", "name: hello\n  namespace: prod", 1), []string{"create", "hello"}, "give -n prod"},
		{"an unknown field", strings.Replace(serviceFile, "containers:", "containerz:", 1), []string{"create", "hello"}, `unknown field "containerz"`},
		{"no image anywhere", strings.Replace(serviceFile, "image: ko://example.com/hello", "name: app", 1), []string{"create", "hello"}, "--image is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, err := run(t, nil, append(tc.args, "-f", writeFile(t, tc.file), "--no-wait")...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to say %q", err, tc.want)
			}
			if w := writes(client); len(w) > 0 {
				t.Errorf("the command sent %v before refusing", w)
			}
		})
	}
}

func TestCreateForceReplacesAndKeepsTheCreator(t *testing.T) {
	before := svc("hello", func(s *servingv1.Service) {
		s.Annotations = map[string]string{serving.CreatorAnnotation.String(): "alice", "note": "old"}
		s.Spec.Template.Annotations = map[string]string{serving.MinScaleAnnotation.String(): "2"}
	})
	out, client, err := run(t, []runtime.Object{before}, "create", "hello", "--force", "--image", "ko://example.com/hello/v2", "--no-wait")
	if err != nil {
		t.Fatalf("create --force: %v\n%s", err, out)
	}
	checkContains(t, "the output", out, "Replaced Service hello in namespace demo.")
	got := getService(t, client, "hello")
	want := before.DeepCopy()
	want.Annotations = map[string]string{serving.CreatorAnnotation.String(): "alice"}
	want.Spec.Template = servingv1.RevisionTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{serving.UserImageAnnotation.String(): "ko://example.com/hello/v2"}},
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{
			Containers: []corev1.Container{{Image: "ko://example.com/hello/v2", SecurityContext: strictSecurityContext()}},
		}},
	}
	want.Spec.Traffic = nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replaced Service (-want, +got):\n%s", diff)
	}
}

func TestUpdateOfANamedRevisionLetsTheServerNameTheNext(t *testing.T) {
	before := svc("hello", func(s *servingv1.Service) { s.Spec.Template.Name = "hello-v1" })
	out, client, err := run(t, []runtime.Object{before}, "update", "hello", "--env", "TARGET=v2", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if name := getService(t, client, "hello").Spec.Template.Name; name != "" {
		t.Errorf("the template's name is %q, want it dropped so that the server names the new Revision", name)
	}

	out, client, err = run(t, []runtime.Object{before}, "update", "hello", "--env", "TARGET=v2", "--revision-name", "hello-v2", "--no-wait")
	if err != nil {
		t.Fatalf("update --revision-name: %v\n%s", err, out)
	}
	if name := getService(t, client, "hello").Spec.Template.Name; name != "hello-v2" {
		t.Errorf("the template's name is %q, want hello-v2", name)
	}
}

func TestApplyWithAGeneratedRevisionNameChangesNothingTheSecondTime(t *testing.T) {
	p, client := commandstest.NewParams(t)
	args := []string{"apply", "hello", "--image", "ko://example.com/hello", "--revision-name", "{{.Service}}-{{.Random 5}}", "--no-wait"}
	if out, err := commandstest.Run(t, NewServiceCommand(p), args...); err != nil {
		t.Fatalf("first apply: %v\n%s", err, out)
	}
	first := getService(t, client, "hello").Spec.Template.Name
	if !strings.HasPrefix(first, "hello-") || len(first) != len("hello-")+5 {
		t.Errorf("the first revision's name is %q, want hello- and five letters", first)
	}
	client.ClearActions()
	out, err := commandstest.Run(t, NewServiceCommand(p), args...)
	if err != nil {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	checkContains(t, "the second apply", out, "Nothing to change in Service hello")
	if w := writes(client); len(w) > 0 {
		t.Errorf("the second apply sent %v, want nothing", w)
	}
}

// TestUpdateFlagsThatNeedTheServiceAreCheckedAgainstIt: the flags are
// checked before fw connects, without the Service; a mount of one of its
// volumes and the timing of one of its probes must pass that check.
func TestUpdateFlagsThatNeedTheServiceAreCheckedAgainstIt(t *testing.T) {
	before := svc("hello", func(s *servingv1.Service) {
		s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		s.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
	})
	out, client, err := run(t, []runtime.Object{before}, "update", "hello", "--mount", "/data=data", "--probe-readiness-opts", "PeriodSeconds=5", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	c := getService(t, client, "hello").Spec.Template.Spec.Containers[0]
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != "data" || c.ReadinessProbe.PeriodSeconds != 5 {
		t.Errorf("mounts %v and readiness probe %+v, want data at /data and a period of 5 s", c.VolumeMounts, c.ReadinessProbe)
	}

	_, _, err = run(t, []runtime.Object{before}, "update", "hello", "--mount", "/data=nope", "--no-wait")
	if err == nil || !strings.Contains(err.Error(), "--volume") {
		t.Errorf("mounting a volume the Service lacks: error = %v, want it to point at --volume", err)
	}
}

func TestDeleteAll(t *testing.T) {
	other := svc("elsewhere")
	other.Namespace = "other"
	out, client, err := run(t, []runtime.Object{svc("hello"), svc("bye"), other}, "delete", "--all")
	if err != nil {
		t.Fatalf("delete --all: %v\n%s", err, out)
	}
	checkContains(t, "the output", out, "Deleted Service hello in namespace demo.\n", "Deleted Service bye in namespace demo.\n")
	if list, _ := client.ServingV1().Services(ns).List(t.Context(), metav1.ListOptions{}); len(list.Items) != 0 {
		t.Errorf("Services left in demo: %v", list.Items)
	}
	if _, err := client.ServingV1().Services("other").Get(t.Context(), "elsewhere", metav1.GetOptions{}); err != nil {
		t.Errorf("the Service of another namespace: %v, want it left", err)
	}

	for _, args := range [][]string{{"delete"}, {"delete", "hello", "--all"}} {
		if _, _, err := run(t, []runtime.Object{svc("hello")}, args...); err == nil || !strings.Contains(err.Error(), "--all") {
			t.Errorf("%v: error = %v, want it to explain names and --all", args, err)
		}
	}
}

// registryImage runs hello from a registry by tag, whose current Revision
// hello-00001 recorded digest (none if "") for it.
func registryImage(digest string) []runtime.Object {
	const tag = "example.com/hello:v1"
	before := svc("hello", func(s *servingv1.Service) { s.Spec.Template.Spec.Containers[0].Image = tag })
	ran := rev("hello-00001", "1", time.Hour, "", corev1.ConditionTrue, "", func(r *servingv1.Revision) {
		r.Spec.Containers[0].Image = tag
		if digest != "" {
			r.Status.ContainerStatuses = []servingv1.ContainerStatus{{Name: "user-container", ImageDigest: digest}}
		}
	})
	return []runtime.Object{before, ran}
}

func TestUpdateLocksTheImageToTheDigestItRuns(t *testing.T) {
	const locked = "example.com/hello@" + digest
	for _, tc := range []struct {
		name      string
		objs      []runtime.Object
		args      []string
		wantImage string
		wantSaid  string
	}{
		{"a new setting keeps the code", registryImage(locked), []string{"--env", "A=1"}, locked, ""},
		{"--no-lock-to-digest does not", registryImage(locked), []string{"--env", "A=1", "--no-lock-to-digest"}, "example.com/hello:v1", ""},
		{"--image chooses", registryImage(locked), []string{"--env", "A=1", "--image", "example.com/hello:v2"}, "example.com/hello:v2", ""},
		{"traffic alone makes no Revision to lock", registryImage(locked), []string{"--tag", "hello-00001=stable"}, "example.com/hello:v1", ""},
		{
			"no digest recorded yet", registryImage(""), []string{"--env", "A=1"}, "example.com/hello:v1",
			"Not locking the image to a digest: the current Revision hello-00001 has no digest recorded for example.com/hello:v1 yet",
		},
		{
			"no Revision yet", registryImage(locked)[:1], []string{"--env", "A=1"}, "example.com/hello:v1",
			"Not locking the image to a digest: its current Revision hello-00001 does not exist (yet)",
		},
		// Nothing to say about an image that is never locked.
		{"a local executable", []runtime.Object{svc("hello")}, []string{"--env", "A=1"}, "ko://example.com/hello", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, client, err := run(t, tc.objs, append([]string{"update", "hello", "--no-wait"}, tc.args...)...)
			if err != nil {
				t.Fatalf("update: %v\n%s", err, out)
			}
			got := getService(t, client, "hello").Spec.Template
			if image := got.Spec.Containers[0].Image; image != tc.wantImage {
				t.Errorf("the template runs %s, want %s", image, tc.wantImage)
			}
			if tc.wantImage == locked && got.Annotations[serving.UserImageAnnotation.String()] != "example.com/hello:v1" {
				t.Errorf("the template's annotations are %v, want the tag it was locked from", got.Annotations)
			}
			if said := strings.Contains(out, "Not locking"); said != (tc.wantSaid != "") || !strings.Contains(out, tc.wantSaid) {
				t.Errorf("the output is %q, want it to say %q", out, tc.wantSaid)
			}
		})
	}
}
