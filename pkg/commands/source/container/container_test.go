package container

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/source/sourcetest"
)

const ns = sourcetest.Namespace

// run runs `fw source container ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := sourcetest.NewParams(t, objs...)
	out, err := commandstest.Run(t, NewContainerCommand(p), args...)
	return out, client, err
}

func brokerSink(name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: ns, Name: name}}
}

// containerSource runs one heartbeats container for the Broker default,
// as the webhook stores it and the platform reports it once ready.
func containerSource(name string, opts ...func(*sourcesv1.ContainerSource)) *sourcesv1.ContainerSource {
	s := &sourcesv1.ContainerSource{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
		},
		Spec: sourcesv1.ContainerSourceSpec{
			SourceSpec: duckv1.SourceSpec{Sink: brokerSink("default")},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  name + "-0",
				Image: "registry.example.com/heartbeats:v1",
				Args:  []string{"--period", "10"},
				Env:   []corev1.EnvVar{{Name: "LABEL", Value: "demo"}, {Name: "PERIOD", Value: "10s"}},
			}}}},
		},
	}
	s.Status.ObservedGeneration = 1
	s.Status.SinkURI = &apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/demo/default"}
	s.Status.Conditions = duckv1.Conditions{
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue},
		{Type: sourcesv1.ContainerSourceConditionReceiveAdapterReady, Status: corev1.ConditionTrue},
		{Type: sourcesv1.ContainerSourceConditionSinkBindingReady, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func getSource(t *testing.T, client *fake.Clientset, name string) *sourcesv1.ContainerSource {
	t.Helper()
	got, err := client.SourcesV1().ContainerSources(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting ContainerSource %s: %v", name, err)
	}
	return got
}

func TestCreateBuildsTheTemplate(t *testing.T) {
	out, client, err := run(t, nil, "create", "heartbeats", "--image", "registry.example.com/heartbeats:v1",
		"--cmd", "/app/heartbeats", "--arg", "--period", "--arg", "10", "-e", "LABEL=demo", "--env", "PERIOD=10s",
		"--service-account", "beats", "--sink", "broker:default", "--no-wait")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := &sourcesv1.ContainerSource{
		ObjectMeta: metav1.ObjectMeta{Name: "heartbeats", Namespace: ns},
		Spec: sourcesv1.ContainerSourceSpec{
			SourceSpec: duckv1.SourceSpec{Sink: brokerSink("default")},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				ServiceAccountName: "beats",
				Containers: []corev1.Container{{
					Image:   "registry.example.com/heartbeats:v1",
					Command: []string{"/app/heartbeats"},
					Args:    []string{"--period", "10"},
					Env:     []corev1.EnvVar{{Name: "LABEL", Value: "demo"}, {Name: "PERIOD", Value: "10s"}},
				}},
			}},
		},
	}
	if diff := cmp.Diff(want, getSource(t, client, "heartbeats")); diff != "" {
		t.Errorf("created ContainerSource (-want, +got):\n%s", diff)
	}
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	base := []string{"create", "c", "--sink", "broker:default"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no image", base, "--image is required: the container image that produces the events, e.g. --image ko://example.com/heartbeats"},
		{"empty image", append(base, "--image", ""), "--image is empty"},
		{"no sink", []string{"create", "c", "--image", "x"}, "--sink is required: where the ContainerSource sends its events"},
		{"env without =", append(base, "--image", "x", "--env", "PERIOD"), `--env "PERIOD": want NAME=VALUE to set a variable or NAME- to remove it`},
		{"K_SINK", append(base, "--image", "x", "--env", "K_SINK=http://elsewhere"),
			`--env "K_SINK=http://elsewhere": K_SINK is set by the source's SinkBinding from --sink and --ce-override and cannot be set`},
		{"K_CE_OVERRIDES", append(base, "--image", "x", "--env", "K_CE_OVERRIDES={}"), "K_CE_OVERRIDES is set by the source's SinkBinding"},
		{"bad account", append(base, "--image", "x", "--service-account", "a b"), `--service-account "a b": not the name of a service account`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, err := run(t, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to say %q", err, tc.want)
			}
			if w := sourcetest.Writes(client); len(w) > 0 {
				t.Errorf("the command sent %v before refusing", w)
			}
		})
	}
}

func TestUpdateMergesEnvAndReplacesArgs(t *testing.T) {
	before := containerSource("heartbeats")
	out, client, err := run(t, []runtime.Object{before}, "update", "heartbeats", "--image", "registry.example.com/heartbeats:v2",
		"--env", "PERIOD=5s", "--env", "LABEL-", "--env", "MODE=fast", "--arg", "", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	want := before.DeepCopy()
	c := &want.Spec.Template.Spec.Containers[0]
	c.Image = "registry.example.com/heartbeats:v2"
	c.Env = []corev1.EnvVar{{Name: "PERIOD", Value: "5s"}, {Name: "MODE", Value: "fast"}}
	c.Args = nil
	if diff := cmp.Diff(want, getSource(t, client, "heartbeats")); diff != "" {
		t.Errorf("updated ContainerSource (-want, +got):\n%s", diff)
	}

	// Only the sink: the container is left alone.
	_, client, err = run(t, []runtime.Object{before}, "update", "heartbeats", "--sink", "ksvc:event-display", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Spec.Template, getSource(t, client, "heartbeats").Spec.Template); diff != "" {
		t.Errorf("--sink changed the template (-want, +got):\n%s", diff)
	}
}

func TestListAndDescribe(t *testing.T) {
	objs := []runtime.Object{containerSource("heartbeats", func(s *sourcesv1.ContainerSource) {
		pod := &s.Spec.Template.Spec
		pod.ServiceAccountName = "beats"
		pod.Containers[0].Command = []string{"/app/heartbeats"}
		pod.Containers[0].Env = append(pod.Containers[0].Env, corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "beats"}, Key: "token"},
		}})
	})}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME        IMAGE                               SINK            AGE  READY  REASON
heartbeats  registry.example.com/heartbeats:v1  broker:default  10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "describe", "heartbeats")
	if err != nil {
		t.Fatal(err)
	}
	want = `Name:            heartbeats
Namespace:       demo
Age:             10m
Image:           registry.example.com/heartbeats:v1
Command:         /app/heartbeats
Args:            --period 10
Env:             LABEL=demo
                 PERIOD=10s
                 TOKEN from Secret beats, key token
Service account: beats
Sink:            broker:default
Sink URI:        http://broker-ingress.flywheel-system.svc.cluster.local/demo/default

Conditions:
  TYPE                 STATUS  REASON  AGE  MESSAGE
  Ready                True
  ReceiveAdapterReady  True
  SinkBindingReady     True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

// TestKnsPodFlags: the ContainerSource takes the same flags for its pod
// as fw service, and an update may mount a volume the source has (which
// the check before connecting cannot see).
func TestKnsPodFlags(t *testing.T) {
	out, client, err := run(t, nil, "create", "heartbeats", "--image", "x", "--sink", "broker:default", "--no-wait",
		"--env-from", "secret:creds", "--mount", "/etc/beats=cm:beats", "--request", "cpu=10m", "--user", "1000", "--pull-policy", "Always")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	pod := getSource(t, client, "heartbeats").Spec.Template.Spec
	c := pod.Containers[0]
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || len(c.VolumeMounts) != 1 || len(pod.Volumes) != 1 ||
		c.Resources.Requests.Cpu().String() != "10m" || *c.SecurityContext.RunAsUser != 1000 || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("the created pod does not have what the flags say:\n%+v", pod)
	}

	before := containerSource("heartbeats", func(s *sourcesv1.ContainerSource) {
		s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	})
	out, client, err = run(t, []runtime.Object{before}, "update", "heartbeats", "--mount", "/data=data", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if m := getSource(t, client, "heartbeats").Spec.Template.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0].Name != "data" {
		t.Errorf("mounts = %v, want the volume data at /data", m)
	}
}
