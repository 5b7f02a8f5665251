package revision

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/commands/commandstest"
)

const (
	ns     = commandstest.Namespace
	digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := commandstest.NewParams(t, objs...)
	out, err := commandstest.Run(t, NewRevisionCommand(p), args...)
	return out, client, err
}

func rev(service string, generation int, age time.Duration, opts ...func(*servingv1.Revision)) *servingv1.Revision {
	name := fmt.Sprintf("%s-%05d", service, generation)
	r := &servingv1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-age)),
			Labels: map[string]string{
				serving.ServiceLabel.String():                 service,
				serving.ConfigurationGenerationLabel.String(): strconv.Itoa(generation),
			},
		},
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "user-container", Image: "ko://example.com/" + service,
		}}}},
	}
	r.Status.Conditions = duckv1.Conditions{{Type: apis.ConditionReady, Status: corev1.ConditionTrue}}
	for _, o := range opts {
		o(r)
	}
	return r
}

func failed(reason, message string) func(*servingv1.Revision) {
	return func(r *servingv1.Revision) {
		r.Status.Conditions = duckv1.Conditions{
			{Type: servingv1.RevisionConditionContainerHealthy, Status: corev1.ConditionFalse, Reason: reason, Message: message},
			{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: reason, Message: message},
		}
	}
}

// served is a Service whose Route serves targets.
func served(name string, targets ...servingv1.TrafficTarget) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	s.Status.Traffic = targets
	return s
}

func target(revision string, percent int64, tag string) servingv1.TrafficTarget {
	tt := servingv1.TrafficTarget{RevisionName: revision, Percent: ptr.To(percent), Tag: tag}
	if tag != "" {
		tt.URL = &apis.URL{Scheme: "http", Host: tag + "-hello.demo.example.com"}
	}
	return tt
}

func TestListShowsTrafficAndTags(t *testing.T) {
	objs := []runtime.Object{
		rev("hello", 1, 10*time.Minute),
		rev("hello", 2, 3*time.Minute),
		rev("hello", 3, time.Minute, failed("ContainerMissing", "Unable to fetch image")),
		rev("bye", 1, 20*time.Minute),
		served("hello", target("hello-00001", 90, "stable"), target("hello-00002", 10, "candidate")),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME         SERVICE  TRAFFIC  TAGS       GENERATION  AGE  READY  REASON
bye-00001    bye                          1           20m  True
hello-00003  hello                        3           60s  False  ContainerMissing
hello-00002  hello    10%      candidate  2           3m   True
hello-00001  hello    90%      stable     1           10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "list", "--service", "bye")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hello") || !strings.Contains(out, "bye-00001") {
		t.Errorf("list --service bye shows:\n%s", out)
	}
}

func TestListAsJSONListsTheRevisions(t *testing.T) {
	objs := []runtime.Object{rev("hello", 1, time.Minute), rev("hello", 2, time.Minute)}
	out, _, err := run(t, objs, "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got servingv1.RevisionList
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
		t.Fatalf("not a RevisionList: %v\n%s", err, out)
	}
	var names []string
	for _, r := range got.Items {
		names = append(names, r.APIVersion+" "+r.Kind+" "+r.Name)
	}
	want := []string{"serving.knative.dev/v1 Revision hello-00002", "serving.knative.dev/v1 Revision hello-00001"}
	if got.Kind != "RevisionList" || got.APIVersion != "serving.knative.dev/v1" || !cmp.Equal(want, names) {
		t.Errorf("got %s %s with %v, want a serving.knative.dev/v1 RevisionList of %v", got.APIVersion, got.Kind, names, want)
	}
}

func TestDescribeShowsImageDigestSettingsAndReplicas(t *testing.T) {
	r := rev("hello", 2, 3*time.Minute, func(r *servingv1.Revision) {
		c := &r.Spec.Containers[0]
		c.Ports = []corev1.ContainerPort{{Name: "h2c", ContainerPort: 9000}}
		c.Env = []corev1.EnvVar{{Name: "TARGET", Value: "v2"}, {Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "api"}, Key: "token"},
		}}}
		c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "cm-settings", MountPath: "/etc/hello", ReadOnly: true}}
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("100m")}
		r.Spec.Volumes = []corev1.Volume{{Name: "cm-settings", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}},
		}}}
		r.Spec.ServiceAccountName = "reader"
		r.Spec.TimeoutSeconds = ptr.To[int64](60)
		r.Spec.ContainerConcurrency = ptr.To[int64](10)
		r.Annotations = map[string]string{serving.MinScaleAnnotation.String(): "1", serving.MaxScaleAnnotation.String(): "5"}
		r.Status.ContainerStatuses = []servingv1.ContainerStatus{{Name: "user-container", ImageDigest: "ko://example.com/hello@" + digest}}
		r.Status.DesiredReplicas, r.Status.ActualReplicas = ptr.To[int32](2), ptr.To[int32](1)
	})
	objs := []runtime.Object{r, served("hello", target("hello-00001", 90, ""), target("hello-00002", 10, "candidate"))}
	out, _, err := run(t, objs, "describe", "hello-00002")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:            hello-00002
Namespace:       demo
Service:         hello
Generation:      2
Age:             3m
Image:           ko://example.com/hello
Digest:          ko://example.com/hello@` + digest + `
Port:            9000 (h2c)
Env:             TARGET=v2
                 TOKEN from Secret api, key token
Env from:        * from ConfigMap settings
Mounts:          /etc/hello from ConfigMap settings (read-only)
Requests:        cpu 100m, memory 64Mi
Service account: reader
Timeout:         60s
Concurrency:     10 requests per pod
Scale:           min 1, max 5
Replicas:        2 desired, 1 actual
Traffic:         10%, tags candidate
Tag URLs:        candidate http://candidate-hello.demo.example.com
Annotations:     autoscaling.knative.dev/max-scale=5
                 autoscaling.knative.dev/min-scale=1

Conditions:
  TYPE   STATUS  REASON  AGE  MESSAGE
  Ready  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

// TestDescribeShowsTheTagALockedImageCameFrom: a Revision that fw service
// update locked to a digest shows the tag it was given as its image, as
// Knative's client conventions say, and the digest it runs.
func TestDescribeShowsTheTagALockedImageCameFrom(t *testing.T) {
	const locked = "example.com/hello@" + digest
	r := rev("hello", 2, time.Minute, func(r *servingv1.Revision) {
		r.Spec.Containers[0].Image = locked
		r.Annotations = map[string]string{serving.UserImageAnnotation.String(): "example.com/hello:v1"}
		r.Status.ContainerStatuses = []servingv1.ContainerStatus{{Name: "user-container", ImageDigest: locked}}
	})
	out, _, err := run(t, []runtime.Object{r}, "describe", "hello-00002")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Image:       example.com/hello:v1\n", "Digest:      " + locked + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe does not say %q:\n%s", want, out)
		}
	}
}

func TestDescribeAsYAML(t *testing.T) {
	r := rev("hello", 1, time.Minute)
	out, _, err := run(t, []runtime.Object{r}, "describe", "hello-00001", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got servingv1.Revision
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := r.DeepCopy()
	want.APIVersion, want.Kind = "serving.knative.dev/v1", "Revision"
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("describe -o yaml (-want, +got):\n%s", diff)
	}
}

func TestDeleteRefusesARevisionThatTakesTraffic(t *testing.T) {
	objs := []runtime.Object{
		rev("hello", 1, time.Minute), rev("hello", 2, time.Minute),
		served("hello", target("hello-00002", 100, "")),
	}
	out, client, err := run(t, objs, "delete", "hello-00001", "hello-00002")
	if !strings.Contains(out, "Deleted Revision hello-00001 in namespace demo.") {
		t.Errorf("output does not report the deletion of hello-00001:\n%s", out)
	}
	if err == nil || !strings.Contains(err.Error(), "Revision hello-00002 still takes traffic (100%") || !strings.Contains(err.Error(), "--traffic") {
		t.Errorf("error = %v, want it to refuse hello-00002 and say how to move its traffic", err)
	}
	if _, err := client.ServingV1().Revisions(ns).Get(t.Context(), "hello-00002", metav1.GetOptions{}); err != nil {
		t.Errorf("hello-00002 was deleted: %v", err)
	}
}

func configuration(name, latest string) *servingv1.Configuration {
	c := &servingv1.Configuration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	c.Status.LatestCreatedRevisionName, c.Status.LatestReadyRevisionName = latest, latest
	return c
}

func TestDeletePrunesWhatNoRouteServes(t *testing.T) {
	objs := func() []runtime.Object {
		return []runtime.Object{
			rev("hello", 1, time.Hour), rev("hello", 2, time.Hour), rev("hello", 3, time.Hour), rev("hello", 4, time.Hour), rev("hello", 5, time.Hour),
			served("hello", target("hello-00001", 0, "old"), target("hello-00003", 100, "")),
			configuration("hello", "hello-00005"),
			rev("bye", 1, time.Hour), rev("bye", 2, time.Hour),
			served("bye"), configuration("bye", "bye-00002"),
		}
	}
	remaining := func(client *fake.Clientset) []string {
		list, err := client.ServingV1().Revisions(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range list.Items {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		return names
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--prune", "hello"}, []string{"bye-00001", "bye-00002", "hello-00001", "hello-00003", "hello-00005"}},
		{[]string{"--prune-all"}, []string{"bye-00002", "hello-00001", "hello-00003", "hello-00005"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, client, err := run(t, objs(), append([]string{"delete"}, tc.args...)...)
			if err != nil {
				t.Fatalf("delete %v: %v\n%s", tc.args, err, out)
			}
			if diff := cmp.Diff(tc.want, remaining(client)); diff != "" {
				t.Errorf("Revisions left (-want, +got):\n%s\noutput:\n%s", diff, out)
			}
		})
	}

	out, _, err := run(t, []runtime.Object{rev("hello", 1, time.Hour), configuration("hello", "hello-00001"), served("hello")}, "delete", "--prune", "hello")
	if err != nil || !strings.Contains(out, "No Revision to prune") {
		t.Errorf("pruning with nothing to prune: %v\n%s", err, out)
	}
}

func TestDeleteRefusesContradictoryFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"delete"}, "give the names of the Revisions to delete"},
		{[]string{"delete", "hello-00001", "--prune", "hello"}, "not both"},
		{[]string{"delete", "--prune", "hello", "--prune-all"}, "contradict"},
		{[]string{"delete", "--prune", "nope"}, "no Service nope in namespace demo"},
	} {
		_, client, err := run(t, nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want it to say %q", tc.args, err, tc.want)
		}
		for _, a := range client.Actions() {
			if a.GetVerb() == "delete" {
				t.Errorf("%v: the command deleted %v", tc.args, a)
			}
		}
	}
}
