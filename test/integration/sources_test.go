//go:build integration

package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	"flywheel.dev/pkg/apis/sources"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
)

// TestSourcesAreServedAsKnClientsLookForThem checks what the stock kn
// client relies on for its source commands: sources.knative.dev/v1 serves
// the four kinds, and `kn source list` finds them by listing the CRDs
// labelled duck.knative.dev/source.
func TestSourcesAreServedAsKnClientsLookForThem(t *testing.T) {
	dc := discovery.NewDiscoveryClientForConfigOrDie(cluster.RESTConfig())
	resources, err := dc.ServerResourcesForGroupVersion(sourcesv1.SchemeGroupVersion.String())
	if err != nil {
		t.Fatalf("discovering %s: %v", sourcesv1.SchemeGroupVersion, err)
	}
	var names []string
	for _, r := range resources.APIResources {
		names = append(names, r.Name)
	}
	kinds := []string{"apiserversources", "containersources", "pingsources", "sinkbindings"}
	for _, kind := range kinds {
		for _, want := range []string{kind, kind + "/status"} {
			if !slices.Contains(names, want) {
				t.Errorf("%s serves %v, missing %s", sourcesv1.SchemeGroupVersion, names, want)
			}
		}
	}

	crds, err := apiextensionsclient.NewForConfigOrDie(cluster.RESTConfig()).ApiextensionsV1().CustomResourceDefinitions().List(
		context.Background(), metav1.ListOptions{LabelSelector: "duck.knative.dev/source=true"})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, crd := range crds.Items {
		listed = append(listed, crd.Spec.Names.Plural)
	}
	slices.Sort(listed)
	if diff := cmp.Diff(kinds, listed); diff != "" {
		t.Errorf("CRDs labelled duck.knative.dev/source=true (-want, +got):\n%s", diff)
	}
}

// TestSourcesWebhookDefaults creates the smallest object of each kind a
// user writes, as a user bound to the built-in edit role, and checks what
// the webhook fills in.
func TestSourcesWebhookDefaults(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "srcdefaults")
	client := editor(t, ns, "sourcer")
	sink := func() duckv1.Destination {
		return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "default"}}
	}
	checkSinkNamespace := func(t *testing.T, d duckv1.Destination) {
		t.Helper()
		if got := d.Ref.Namespace; got != ns {
			t.Errorf("the sink's namespace = %q, want the source's %q", got, ns)
		}
	}

	t.Run("PingSource", func(t *testing.T) {
		p, err := client.SourcesV1().PingSources(ns).Create(ctx, &sourcesv1.PingSource{
			ObjectMeta: metav1.ObjectMeta{Name: "tick"},
			Spec:       sourcesv1.PingSourceSpec{SourceSpec: duckv1.SourceSpec{Sink: sink()}, Data: "hello"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the PingSource: %v", err)
		}
		if p.Spec.Schedule != sourcesv1.DefaultSchedule {
			t.Errorf("schedule = %q, want %q", p.Spec.Schedule, sourcesv1.DefaultSchedule)
		}
		checkSinkNamespace(t, p.Spec.Sink)
	})

	t.Run("ApiServerSource", func(t *testing.T) {
		a, err := client.SourcesV1().ApiServerSources(ns).Create(ctx, &sourcesv1.ApiServerSource{
			ObjectMeta: metav1.ObjectMeta{Name: "changes"},
			Spec: sourcesv1.ApiServerSourceSpec{
				SourceSpec: duckv1.SourceSpec{Sink: sink()},
				Resources:  []sourcesv1.APIVersionKindSelector{{APIVersion: "v1", Kind: "ConfigMap"}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the ApiServerSource: %v", err)
		}
		if a.Spec.Mode != sourcesv1.EventModeReference {
			t.Errorf("mode = %q, want %q", a.Spec.Mode, sourcesv1.EventModeReference)
		}
		if a.Spec.ServiceAccountName != sourcesv1.DefaultServiceAccountName {
			t.Errorf("serviceAccountName = %q, want %q", a.Spec.ServiceAccountName, sourcesv1.DefaultServiceAccountName)
		}
		checkSinkNamespace(t, a.Spec.Sink)
	})

	t.Run("SinkBinding", func(t *testing.T) {
		sb, err := client.SourcesV1().SinkBindings(ns).Create(ctx, &sourcesv1.SinkBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "bind"},
			Spec: sourcesv1.SinkBindingSpec{
				SourceSpec:  duckv1.SourceSpec{Sink: sink()},
				BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Name: "producer"}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the SinkBinding: %v", err)
		}
		if got := sb.Spec.Subject.Namespace; got != ns {
			t.Errorf("the subject's namespace = %q, want the binding's %q", got, ns)
		}
		checkSinkNamespace(t, sb.Spec.Sink)
	})

	t.Run("ContainerSource", func(t *testing.T) {
		cs, err := client.SourcesV1().ContainerSources(ns).Create(ctx, &sourcesv1.ContainerSource{
			ObjectMeta: metav1.ObjectMeta{Name: "heartbeats"},
			Spec: sourcesv1.ContainerSourceSpec{
				SourceSpec: duckv1.SourceSpec{Sink: sink()},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Image: "ko://flywheel.dev/examples/heartbeats"},
				}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the ContainerSource: %v", err)
		}
		if got := cs.Spec.Template.Spec.Containers[0].Name; got != "heartbeats-0" {
			t.Errorf("the container's name = %q, want heartbeats-0", got)
		}
		checkSinkNamespace(t, cs.Spec.Sink)
	})
}

// TestSourcesWebhookRefusesInvalidObjects checks that each mistake is
// refused with a message naming the field and the fix.
func TestSourcesWebhookRefusesInvalidObjects(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "srcvalidation")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig()).SourcesV1()
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	meta := metav1.ObjectMeta{Name: "bad"}
	sink := duckv1.SourceSpec{Sink: duckv1.Destination{URI: apis.HTTP("events.example.com")}}
	subject := duckv1.BindingSpec{Subject: tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Name: "producer"}}
	container := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ghcr.io/example/beats"}}}}

	for _, tc := range []struct {
		name   string
		create func() error
		want   []string
	}{{
		name: "a PingSource without a sink",
		create: func() error {
			_, err := client.PingSources(ns).Create(ctx, &sourcesv1.PingSource{ObjectMeta: meta}, dryRun)
			return err
		},
		want: []string{"a sink is required", "spec.sink"},
	}, {
		name: "a PingSource with a schedule of four fields",
		create: func() error {
			_, err := client.PingSources(ns).Create(ctx, &sourcesv1.PingSource{ObjectMeta: meta,
				Spec: sourcesv1.PingSourceSpec{SourceSpec: sink, Schedule: "* * * *"}}, dryRun)
			return err
		},
		want: []string{"spec.schedule", "write five fields"},
	}, {
		name: "a PingSource in a time zone that does not exist",
		create: func() error {
			_, err := client.PingSources(ns).Create(ctx, &sourcesv1.PingSource{ObjectMeta: meta,
				Spec: sourcesv1.PingSourceSpec{SourceSpec: sink, Timezone: "Mars/Olympus"}}, dryRun)
			return err
		},
		want: []string{`unknown time zone "Mars/Olympus"`, "spec.timezone"},
	}, {
		name: "a PingSource with data and dataBase64",
		create: func() error {
			_, err := client.PingSources(ns).Create(ctx, &sourcesv1.PingSource{ObjectMeta: meta,
				Spec: sourcesv1.PingSourceSpec{SourceSpec: sink, Data: "a", DataBase64: "YQ=="}}, dryRun)
			return err
		},
		want: []string{"spec.data", "spec.dataBase64"},
	}, {
		name: "a PingSource with an override name in capitals",
		create: func() error {
			overrides := sink
			overrides.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"Team": "shop"}}
			_, err := client.PingSources(ns).Create(ctx, &sourcesv1.PingSource{ObjectMeta: meta,
				Spec: sourcesv1.PingSourceSpec{SourceSpec: overrides}}, dryRun)
			return err
		},
		want: []string{"spec.ceOverrides.extensions[Team]", "lower-case letters and digits"},
	}, {
		name: "an ApiServerSource without resources",
		create: func() error {
			_, err := client.ApiServerSources(ns).Create(ctx, &sourcesv1.ApiServerSource{ObjectMeta: meta,
				Spec: sourcesv1.ApiServerSourceSpec{SourceSpec: sink}}, dryRun)
			return err
		},
		want: []string{"at least one resource is required", "spec.resources"},
	}, {
		name: "an ApiServerSource in an unknown mode",
		create: func() error {
			_, err := client.ApiServerSources(ns).Create(ctx, &sourcesv1.ApiServerSource{ObjectMeta: meta,
				Spec: sourcesv1.ApiServerSourceSpec{SourceSpec: sink, Mode: "Full",
					Resources: []sourcesv1.APIVersionKindSelector{{APIVersion: "v1", Kind: "ConfigMap"}}}}, dryRun)
			return err
		},
		want: []string{"spec.mode", "use Reference"},
	}, {
		name: "a SinkBinding by name and selector",
		create: func() error {
			both := subject
			both.Subject.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "producer"}}
			_, err := client.SinkBindings(ns).Create(ctx, &sourcesv1.SinkBinding{ObjectMeta: meta,
				Spec: sourcesv1.SinkBindingSpec{SourceSpec: sink, BindingSpec: both}}, dryRun)
			return err
		},
		want: []string{"expected exactly one, got both", "spec.subject.name", "spec.subject.selector"},
	}, {
		name: "a SinkBinding whose subject is in another namespace",
		create: func() error {
			elsewhere := subject
			elsewhere.Subject.Namespace = "kube-system"
			_, err := client.SinkBindings(ns).Create(ctx, &sourcesv1.SinkBinding{ObjectMeta: meta,
				Spec: sourcesv1.SinkBindingSpec{SourceSpec: sink, BindingSpec: elsewhere}}, dryRun)
			return err
		},
		want: []string{"spec.subject.namespace", `create the SinkBinding in namespace "kube-system"`},
	}, {
		name: "a ContainerSource whose container has no image",
		create: func() error {
			noImage := *container.DeepCopy()
			noImage.Spec.Containers[0].Image = ""
			_, err := client.ContainerSources(ns).Create(ctx, &sourcesv1.ContainerSource{ObjectMeta: meta,
				Spec: sourcesv1.ContainerSourceSpec{SourceSpec: sink, Template: noImage}}, dryRun)
			return err
		},
		want: []string{"spec.template.spec.containers[0].image"},
	}, {
		name: "a ContainerSource without a sink",
		create: func() error {
			_, err := client.ContainerSources(ns).Create(ctx, &sourcesv1.ContainerSource{ObjectMeta: meta,
				Spec: sourcesv1.ContainerSourceSpec{Template: container}}, dryRun)
			return err
		},
		want: []string{"a sink is required", "spec.sink"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.create()
			if err == nil {
				t.Fatal("the object was accepted")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestSourcesRefuseKnativeFieldsFlywheelDoesNotApply checks that a manifest
// using ApiServerSource's experimental spec.filters, which Flywheel does
// not implement, is refused under the strict field validation kubectl
// asks for, instead of being stored without the filters.
func TestSourcesRefuseKnativeFieldsFlywheelDoesNotApply(t *testing.T) {
	ns := newNamespace(t, "srcfields")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": sourcesv1.SchemeGroupVersion.String(),
		"kind":       "ApiServerSource",
		"metadata":   map[string]any{"name": "filtered"},
		"spec": map[string]any{
			"resources": []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}},
			"sink":      map[string]any{"uri": "http://events.example.com"},
			"filters":   []any{map[string]any{"exact": map[string]any{"type": "dev.knative.apiserver.resource.add"}}},
		},
	}}
	_, err := dynamic.NewForConfigOrDie(cluster.RESTConfig()).Resource(sourcesv1.SchemeGroupVersion.WithResource("apiserversources")).
		Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	if err == nil || !strings.Contains(err.Error(), "spec.filters") {
		t.Errorf("creating an ApiServerSource with spec.filters: err = %v, want a refusal naming spec.filters", err)
	}
}

// editor returns a client acting as user, bound in ns to the built-in
// edit role once that role has gained the sources' rules from the
// aggregated role config/core adds.
func editor(t *testing.T, ns, user string) versioned.Interface {
	t.Helper()
	bindEdit(t, ns, user)
	waitUntil(t, 30*time.Second, "the edit role to cover "+sources.GroupName, func(ctx context.Context) (bool, error) {
		edit, err := cluster.Kube.RbacV1().ClusterRoles().Get(ctx, "edit", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, rule := range edit.Rules {
			if slices.Contains(rule.APIGroups, sources.GroupName) {
				return true, nil
			}
		}
		return false, nil
	})
	cfg := rest.CopyConfig(cluster.RESTConfig())
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return versioned.NewForConfigOrDie(cfg)
}
