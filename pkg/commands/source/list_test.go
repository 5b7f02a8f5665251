package source

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"
	"sigs.k8s.io/yaml"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/source/sourcetest"
)

const ns = sourcetest.Namespace

// run runs `fw source ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := sourcetest.NewParams(t, objs...)
	out, err := commandstest.Run(t, newSourceCommand(p), args...)
	return out, client, err
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-time.Hour))}
}

func ready(s corev1.ConditionStatus) duckv1.Status {
	return duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionReady, Status: s}}}
}

func ksvc(name string) duckv1.SourceSpec {
	return duckv1.SourceSpec{Sink: duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: name}}}
}

// oneOfEach is a source of every kind, in namespace demo, and a
// PingSource in another.
func oneOfEach() []runtime.Object {
	p := &sourcesv1.PingSource{ObjectMeta: meta("p1"), Spec: sourcesv1.PingSourceSpec{SourceSpec: ksvc("eshow1")}}
	p.Status.Status = ready(corev1.ConditionTrue)
	a := &sourcesv1.ApiServerSource{ObjectMeta: meta("a1"), Spec: sourcesv1.ApiServerSourceSpec{SourceSpec: ksvc("eshow2"),
		Resources: []sourcesv1.APIVersionKindSelector{{APIVersion: "v1", Kind: "Event"}}}}
	a.Status.Status = ready(corev1.ConditionTrue)
	b := &sourcesv1.SinkBinding{ObjectMeta: meta("b1"), Spec: sourcesv1.SinkBindingSpec{SourceSpec: ksvc("eshow3"),
		BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "app"}}}}
	b.Status.Status = ready(corev1.ConditionFalse)
	c := &sourcesv1.ContainerSource{ObjectMeta: meta("c1"), Spec: sourcesv1.ContainerSourceSpec{SourceSpec: ksvc("eshow4"),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "example.com/heartbeats"}}}}}}
	other := &sourcesv1.PingSource{ObjectMeta: meta("p2"), Spec: sourcesv1.PingSourceSpec{SourceSpec: ksvc("eshow1")}}
	other.Namespace = "other"
	return []runtime.Object{p, a, b, c, other}
}

func TestListShowsEveryKindAsKnDoes(t *testing.T) {
	out, _, err := run(t, oneOfEach(), "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME  TYPE             RESOURCE                              SINK         READY
a1    ApiServerSource  apiserversources.sources.knative.dev  ksvc:eshow2  True
b1    SinkBinding      sinkbindings.sources.knative.dev      ksvc:eshow3  False
c1    ContainerSource  containersources.sources.knative.dev  ksvc:eshow4  Unknown
p1    PingSource       pingsources.sources.knative.dev       ksvc:eshow1  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}
}

func TestListByType(t *testing.T) {
	out, _, err := run(t, oneOfEach(), "list", "--type", "pingsource", "-t", "ApiServerSource,sinkbindings", "-A")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE  NAME  TYPE             RESOURCE                              SINK                           READY
demo       a1    ApiServerSource  apiserversources.sources.knative.dev  ksvc:eshow2                    True
demo       b1    SinkBinding      sinkbindings.sources.knative.dev      ksvc:eshow3                    False
demo       p1    PingSource       pingsources.sources.knative.dev       ksvc:eshow1                    True
other      p2    PingSource       pingsources.sources.knative.dev       ksvc:eshow1 in namespace demo  Unknown
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	_, _, err = run(t, nil, "list", "--type", "KafkaSource")
	if want := `--type "KafkaSource": not a kind of source; want one of PingSource, ApiServerSource, SinkBinding, ContainerSource`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestListEmpty(t *testing.T) {
	out, _, err := run(t, nil, "list")
	if err != nil {
		t.Fatal(err)
	}
	if want := "No sources found in namespace demo.\n"; out != want {
		t.Errorf("list = %q, want %q", out, want)
	}
}

// TestListSkipsKindsTheClusterDoesNotServe: a cluster without one of the
// CRDs answers 404 for its resource.
func TestListSkipsKindsTheClusterDoesNotServe(t *testing.T) {
	p, client := sourcetest.NewParams(t, oneOfEach()...)
	client.PrependReactor("list", "containersources", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrs.NewNotFound(sourcesv1.Resource("containersources"), "")
	})
	out, err := commandstest.Run(t, newSourceCommand(p), "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "ContainerSource") || !strings.Contains(out, "PingSource") {
		t.Errorf("list:\n%s\nwant every kind but ContainerSource", out)
	}
}

func TestListPrintsOneListOfEveryKind(t *testing.T) {
	for _, format := range []string{"json", "yaml"} {
		out, _, err := run(t, oneOfEach(), "list", "-o", format)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Items      []struct {
				APIVersion string            `json:"apiVersion"`
				Kind       string            `json:"kind"`
				Metadata   metav1.ObjectMeta `json:"metadata"`
			} `json:"items"`
		}
		if err := yaml.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("-o %s is not a List: %v\n%s", format, err, out)
		}
		var items []string
		for _, i := range got.Items {
			items = append(items, i.APIVersion+" "+i.Kind+" "+i.Metadata.Name)
		}
		want := []string{
			"sources.knative.dev/v1 ApiServerSource a1",
			"sources.knative.dev/v1 SinkBinding b1",
			"sources.knative.dev/v1 ContainerSource c1",
			"sources.knative.dev/v1 PingSource p1",
		}
		if got.APIVersion != "v1" || got.Kind != "List" {
			t.Errorf("-o %s: apiVersion %q, kind %q; want v1 List", format, got.APIVersion, got.Kind)
		}
		if diff := cmp.Diff(want, items); diff != "" {
			t.Errorf("-o %s items (-want, +got):\n%s", format, diff)
		}
	}
	out, _, err := run(t, nil, "list", "-o", "yaml")
	if err != nil || out != "apiVersion: v1\nitems: []\nkind: List\nmetadata: {}\n" {
		t.Errorf("an empty list -o yaml = %q, %v", out, err)
	}
}

func TestListNames(t *testing.T) {
	out, _, err := run(t, oneOfEach(), "list", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	want := `apiserversource.sources.knative.dev/a1
sinkbinding.sources.knative.dev/b1
containersource.sources.knative.dev/c1
pingsource.sources.knative.dev/p1
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list -o name (-want, +got):\n%s", diff)
	}
}
