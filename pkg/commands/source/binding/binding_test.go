package binding

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
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/source/sourcetest"
)

const ns = sourcetest.Namespace

// run runs `fw source binding ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := sourcetest.NewParams(t, objs...)
	out, err := commandstest.Run(t, NewBindingCommand(p), args...)
	return out, client, err
}

func ksvc(name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: name}}
}

// sinkBinding binds the Deployment hello to the Knative Service
// event-display, as the platform reports it once ready.
func sinkBinding(name string, opts ...func(*sourcesv1.SinkBinding)) *sourcesv1.SinkBinding {
	s := &sourcesv1.SinkBinding{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
		},
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec:  duckv1.SourceSpec{Sink: ksvc("event-display")},
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "hello"}},
		},
	}
	s.Status.ObservedGeneration = 1
	s.Status.SinkURI = &apis.URL{Scheme: "http", Host: "event-display.demo.svc.cluster.local"}
	s.Status.Conditions = duckv1.Conditions{
		{Type: "BindingAvailable", Status: corev1.ConditionTrue},
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue},
		{Type: sourcesv1.ConditionSinkProvided, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func getBinding(t *testing.T, client *fake.Clientset, name string) *sourcesv1.SinkBinding {
	t.Helper()
	got, err := client.SourcesV1().SinkBindings(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting SinkBinding %s: %v", name, err)
	}
	return got
}

func TestCreateTakesASubjectByNameOrBySelector(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    tracker.Reference
	}{
		{"Deployment:apps/v1:hello", tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "hello"}},
		{"cronjob:batch/v1:app=ping", tracker.Reference{APIVersion: "batch/v1", Kind: "CronJob", Namespace: ns,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ping"}}}},
		{"Job:batch/v1:app=heartbeat,tier=web", tracker.Reference{APIVersion: "batch/v1", Kind: "Job", Namespace: ns,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "heartbeat", "tier": "web"}}}},
		{"Service:serving.knative.dev/v1:hello", tracker.Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "hello"}},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			_, client, err := run(t, nil, "create", "b", "--subject", tc.subject, "--sink", "ksvc:event-display", "--no-wait")
			if err != nil {
				t.Fatal(err)
			}
			want := &sourcesv1.SinkBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns},
				Spec: sourcesv1.SinkBindingSpec{
					SourceSpec:  duckv1.SourceSpec{Sink: ksvc("event-display")},
					BindingSpec: duckv1.BindingSpec{Subject: tc.want},
				},
			}
			if diff := cmp.Diff(want, getBinding(t, client, "b")); diff != "" {
				t.Errorf("created SinkBinding (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	base := []string{"create", "b", "--sink", "ksvc:event-display"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subject", base, "--subject is required: the object whose pods get K_SINK, e.g. --subject Deployment:apps/v1:hello"},
		{"no name nor selector", append(base, "--subject", "Deployment:apps/v1"),
			`--subject "Deployment:apps/v1": name the object, or give a label selector, after the apiVersion, e.g. --subject Deployment:apps/v1:hello or --subject Deployment:apps/v1:app=hello`},
		{"bad name", append(base, "--subject", "Deployment:apps/v1:Hello"),
			`--subject "Deployment:apps/v1:Hello": "Hello" is not the name of an object`},
		{"bad selector", append(base, "--subject", "Job:batch/v1:app=(x)"), `--subject "Job:batch/v1:app=(x)": "app=(x)" is not a label selector`},
		{"name first", append(base, "--subject", "hello:Deployment:apps/v1"), `--subject "hello:Deployment:apps/v1": "hello" is not a kind`},
		{"bad override", append(base, "--subject", "Deployment:apps/v1:hello", "--ce-override", "a.b=c"), `--ce-override "a.b=c"`},
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

func TestUpdateChangesTheSubjectAndKeepsTheRest(t *testing.T) {
	before := sinkBinding("hello-sink", func(s *sourcesv1.SinkBinding) {
		s.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "ops"}}
	})
	out, client, err := run(t, []runtime.Object{before}, "update", "hello-sink", "--subject", "CronJob:batch/v1:nightly", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	want := before.DeepCopy()
	want.Spec.Subject = tracker.Reference{APIVersion: "batch/v1", Kind: "CronJob", Namespace: ns, Name: "nightly"}
	if diff := cmp.Diff(want, getBinding(t, client, "hello-sink")); diff != "" {
		t.Errorf("updated SinkBinding (-want, +got):\n%s", diff)
	}

	_, client, err = run(t, []runtime.Object{before}, "update", "hello-sink", "--subject", "Deployment:apps/v1:hello", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	if w := sourcetest.Writes(client); len(w) > 0 {
		t.Errorf("the same subject again: the command sent %v, want nothing", w)
	}
}

func TestListAndDescribe(t *testing.T) {
	objs := []runtime.Object{
		sinkBinding("hello-sink"),
		sinkBinding("heartbeats", func(s *sourcesv1.SinkBinding) {
			s.Spec.Subject = tracker.Reference{APIVersion: "batch/v1", Kind: "Job", Namespace: ns,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "heartbeat"}}}
		}),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME        SUBJECT                     SINK                AGE  READY  REASON
heartbeats  Job:batch/v1:app=heartbeat  ksvc:event-display  10m  True
hello-sink  Deployment:apps/v1:hello    ksvc:event-display  10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "describe", "hello-sink")
	if err != nil {
		t.Fatal(err)
	}
	want = `Name:      hello-sink
Namespace: demo
Age:       10m
Subject:   Deployment:apps/v1:hello
Sink:      ksvc:event-display
Sink URI:  http://event-display.demo.svc.cluster.local

Conditions:
  TYPE              STATUS  REASON  AGE  MESSAGE
  BindingAvailable  True
  Ready             True
  SinkProvided      True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}
