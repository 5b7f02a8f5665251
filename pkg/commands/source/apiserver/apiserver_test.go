package apiserver

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

// run runs `fw source apiserver ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := sourcetest.NewParams(t, objs...)
	out, err := commandstest.Run(t, NewAPIServerCommand(p), args...)
	return out, client, err
}

func brokerSink(name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: ns, Name: name}}
}

// apiServerSource watches Events for the Broker default, as the webhook
// stores it and the platform reports it once ready.
func apiServerSource(name string, opts ...func(*sourcesv1.ApiServerSource)) *sourcesv1.ApiServerSource {
	s := &sourcesv1.ApiServerSource{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
		},
		Spec: sourcesv1.ApiServerSourceSpec{
			SourceSpec:         duckv1.SourceSpec{Sink: brokerSink("default")},
			Resources:          []sourcesv1.APIVersionKindSelector{{APIVersion: "v1", Kind: "Event"}},
			Mode:               sourcesv1.EventModeReference,
			ServiceAccountName: "default",
		},
	}
	s.Status.ObservedGeneration = 1
	s.Status.SinkURI = &apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/demo/default"}
	s.Status.Namespaces = []string{ns}
	s.Status.Conditions = duckv1.Conditions{
		{Type: sourcesv1.ApiServerSourceConditionDeployed, Status: corev1.ConditionTrue},
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue},
		{Type: sourcesv1.ConditionSinkProvided, Status: corev1.ConditionTrue},
		{Type: sourcesv1.ApiServerSourceConditionSufficientPermissions, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func getSource(t *testing.T, client *fake.Clientset, name string) *sourcesv1.ApiServerSource {
	t.Helper()
	got, err := client.SourcesV1().ApiServerSources(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting ApiServerSource %s: %v", name, err)
	}
	return got
}

func TestCreateBuildsTheApiServerSource(t *testing.T) {
	out, client, err := run(t, nil, "create", "shop", "--resource", "Deployment:apps/v1:app=shop,tier in (web,api)",
		"--resource", "event:v1", "--mode", "resource", "--service-account", "watcher",
		"--ce-override", "team=shop", "--sink", "ksvc:auditor", "--no-wait")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := &sourcesv1.ApiServerSource{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns},
		Spec: sourcesv1.ApiServerSourceSpec{
			SourceSpec: duckv1.SourceSpec{
				Sink: duckv1.Destination{Ref: &duckv1.KReference{
					APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "auditor",
				}},
				CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "shop"}},
			},
			Resources: []sourcesv1.APIVersionKindSelector{
				{APIVersion: "apps/v1", Kind: "Deployment", Selector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"app": "shop"},
					MatchExpressions: []metav1.LabelSelectorRequirement{
						{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"api", "web"}},
					},
				}},
				{APIVersion: "v1", Kind: "Event"},
			},
			Mode:               sourcesv1.EventModeResource,
			ServiceAccountName: "watcher",
		},
	}
	if diff := cmp.Diff(want, getSource(t, client, "shop")); diff != "" {
		t.Errorf("created ApiServerSource (-want, +got):\n%s", diff)
	}
	if want := "Created ApiServerSource shop in namespace demo.\n"; !strings.HasPrefix(out, want) {
		t.Errorf("output = %q, want it to begin %q", out, want)
	}
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	base := []string{"create", "s", "--sink", "broker:default"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no resource", base, "--resource is required: the kind of object to watch, e.g. --resource Event:v1"},
		{"no sink", []string{"create", "s", "--resource", "Event:v1"}, "--sink is required: where the ApiServerSource sends its events"},
		{"kind only", append(base, "--resource", "Event"), `--resource "Event": want KIND:APIVERSION, e.g. --resource Event:v1`},
		{"swapped", append(base, "--resource", "v1:Event"), `--resource "v1:Event": the kind comes first, then its apiVersion, e.g. --resource Event:v1`},
		{"isController", append(base, "--resource", "Event:v1:true"),
			`--resource "Event:v1:true": what follows the apiVersion is a label selector, e.g. Event:v1:app=hello; leave it out to watch every Event`},
		{"bad selector", append(base, "--resource", "Pod:v1:app in hello"), `--resource "Pod:v1:app in hello": "app in hello" is not a label selector`},
		{"bad mode", append(base, "--resource", "Event:v1", "--mode", "Ref"),
			`--mode "Ref": want Reference, for events that hold a reference to the object, or Resource, for events that hold the whole object`},
		{"bad account", append(base, "--resource", "Event:v1", "--service-account", "Watcher"), `--service-account "Watcher": not the name of a service account`},
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

func TestUpdateReplacesTheResourcesAndKeepsTheRest(t *testing.T) {
	before := apiServerSource("k8s-events")
	_, client, err := run(t, []runtime.Object{before}, "update", "k8s-events", "--resource", "Event:v1", "--resource", "Pod:v1", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	want := before.DeepCopy()
	want.Spec.Resources = append(want.Spec.Resources, sourcesv1.APIVersionKindSelector{APIVersion: "v1", Kind: "Pod"})
	if diff := cmp.Diff(want, getSource(t, client, "k8s-events")); diff != "" {
		t.Errorf("updated ApiServerSource (-want, +got):\n%s", diff)
	}

	// As the webhook stored them, the same settings change nothing.
	_, client, err = run(t, []runtime.Object{before}, "update", "k8s-events", "--resource", "Event:v1", "--mode", "Reference",
		"--service-account", "default", "--sink", "broker:default", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	if w := sourcetest.Writes(client); len(w) > 0 {
		t.Errorf("the command sent %v, want nothing", w)
	}
}

func TestListAndDescribe(t *testing.T) {
	objs := []runtime.Object{
		apiServerSource("k8s-events"),
		apiServerSource("shop", func(s *sourcesv1.ApiServerSource) {
			s.Spec.Resources = []sourcesv1.APIVersionKindSelector{
				{APIVersion: "apps/v1", Kind: "Deployment", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}},
				{APIVersion: "v1", Kind: "ConfigMap"},
			}
			s.Spec.Mode, s.Spec.ServiceAccountName = sourcesv1.EventModeResource, "watcher"
			s.Spec.Owner = &sourcesv1.APIVersionKind{APIVersion: "apps/v1", Kind: "ReplicaSet"}
			s.Status.Conditions[1] = apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: "InsufficientPermissions",
				Message: `ServiceAccount "watcher" cannot list configmaps in namespace "demo"`}
			s.Status.Conditions[3] = s.Status.Conditions[1]
			s.Status.Conditions[3].Type = sourcesv1.ApiServerSourceConditionSufficientPermissions
		}),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME        RESOURCES                                 SINK            AGE  READY  REASON
k8s-events  Event:v1                                  broker:default  10m  True
shop        Deployment:apps/v1:app=shop ConfigMap:v1  broker:default  10m  False  InsufficientPermissions
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "describe", "shop")
	if err != nil {
		t.Fatal(err)
	}
	want = `Name:               shop
Namespace:          demo
Age:                10m
Resources:          Deployment:apps/v1:app=shop
                    ConfigMap:v1
Mode:               Resource
Service account:    watcher
Owner:              ReplicaSet:apps/v1
Namespaces watched: demo
Sink:               broker:default
Sink URI:           http://broker-ingress.flywheel-system.svc.cluster.local/demo/default

Conditions:
  TYPE                   STATUS  REASON                   AGE  MESSAGE
  Deployed               True
  Ready                  False   InsufficientPermissions       ServiceAccount "watcher" cannot list configmaps in namespace "demo"
  SinkProvided           True
  SufficientPermissions  False   InsufficientPermissions       ServiceAccount "watcher" cannot list configmaps in namespace "demo"
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}
