//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
)

func TestCRDsAreEstablishedWithTheirNames(t *testing.T) {
	ctx := context.Background()
	client := apiextensionsclient.NewForConfigOrDie(cluster.RESTConfig())
	want := map[string][]string{
		"services.serving.knative.dev":            {"ksvc", "kservice"},
		"configurations.serving.knative.dev":      {"config", "cfg"},
		"revisions.serving.knative.dev":           {"rev"},
		"routes.serving.knative.dev":              {"rt"},
		"podautoscalers.autoscaling.flywheel.dev": {"kpa", "pa"},
	}
	for name, shortNames := range want {
		t.Run(name, func(t *testing.T) {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !established(crd) {
				t.Errorf("CRD %s is not Established: %+v", name, crd.Status.Conditions)
			}
			if diff := cmp.Diff(shortNames, crd.Spec.Names.ShortNames); diff != "" {
				t.Errorf("short names (-want, +got):\n%s", diff)
			}
			for _, cat := range []string{"all", "knative"} {
				if !contains(crd.Spec.Names.Categories, cat) {
					t.Errorf("categories %v lack %q", crd.Spec.Names.Categories, cat)
				}
			}
		})
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestEveryKindCreateGetListWatchUpdateStatus drives each kind through the
// verbs the reconcilers will use, through the generated clientset.
func TestEveryKindCreateGetListWatchUpdateStatus(t *testing.T) {
	noControllerYet(t)
	ctx := context.Background()
	ns := newNamespace(t, "crud")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	ready := apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue, LastTransitionTime: apis.VolatileTime{Inner: metav1.Now()}}

	t.Run("Service", func(t *testing.T) {
		c := client.ServingV1().Services(ns)
		exerciseKind(t, kindClient[*servingv1.Service]{
			create: func(o *servingv1.Service) (*servingv1.Service, error) {
				return c.Create(ctx, o, metav1.CreateOptions{})
			},
			get: func(name string) (*servingv1.Service, error) { return c.Get(ctx, name, metav1.GetOptions{}) },
			list: func() (int, error) {
				l, err := c.List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			watch: func(name string) (watch.Interface, error) { return c.Watch(ctx, singleObject(name)) },
			update: func(o *servingv1.Service) (*servingv1.Service, error) {
				return c.Update(ctx, o, metav1.UpdateOptions{})
			},
			updateStatus: func(o *servingv1.Service) (*servingv1.Service, error) {
				return c.UpdateStatus(ctx, o, metav1.UpdateOptions{})
			},
			status: func(o *servingv1.Service) *duckv1.Status { return &o.Status.Status },
		}, &servingv1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
			Spec:       servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")}},
		}, ready)
	})
	t.Run("Configuration", func(t *testing.T) {
		c := client.ServingV1().Configurations(ns)
		exerciseKind(t, kindClient[*servingv1.Configuration]{
			create: func(o *servingv1.Configuration) (*servingv1.Configuration, error) {
				return c.Create(ctx, o, metav1.CreateOptions{})
			},
			get: func(name string) (*servingv1.Configuration, error) { return c.Get(ctx, name, metav1.GetOptions{}) },
			list: func() (int, error) {
				l, err := c.List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			watch: func(name string) (watch.Interface, error) { return c.Watch(ctx, singleObject(name)) },
			update: func(o *servingv1.Configuration) (*servingv1.Configuration, error) {
				return c.Update(ctx, o, metav1.UpdateOptions{})
			},
			updateStatus: func(o *servingv1.Configuration) (*servingv1.Configuration, error) {
				return c.UpdateStatus(ctx, o, metav1.UpdateOptions{})
			},
			status: func(o *servingv1.Configuration) *duckv1.Status { return &o.Status.Status },
		}, &servingv1.Configuration{
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
			Spec:       servingv1.ConfigurationSpec{Template: template("ko://flywheel.dev/examples/hello")},
		}, ready)
	})
	t.Run("Revision", func(t *testing.T) {
		c := client.ServingV1().Revisions(ns)
		exerciseKind(t, kindClient[*servingv1.Revision]{
			create: func(o *servingv1.Revision) (*servingv1.Revision, error) {
				return c.Create(ctx, o, metav1.CreateOptions{})
			},
			get: func(name string) (*servingv1.Revision, error) { return c.Get(ctx, name, metav1.GetOptions{}) },
			list: func() (int, error) {
				l, err := c.List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			watch: func(name string) (watch.Interface, error) { return c.Watch(ctx, singleObject(name)) },
			// A Revision's spec is immutable, so the update changes a label.
			update: func(o *servingv1.Revision) (*servingv1.Revision, error) {
				return c.Update(ctx, o, metav1.UpdateOptions{})
			},
			updateStatus: func(o *servingv1.Revision) (*servingv1.Revision, error) {
				return c.UpdateStatus(ctx, o, metav1.UpdateOptions{})
			},
			status: func(o *servingv1.Revision) *duckv1.Status { return &o.Status.Status },
		}, &servingv1.Revision{
			ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: ns},
			Spec:       template("ko://flywheel.dev/examples/hello").Spec,
		}, ready)
	})
	t.Run("Route", func(t *testing.T) {
		c := client.ServingV1().Routes(ns)
		exerciseKind(t, kindClient[*servingv1.Route]{
			create: func(o *servingv1.Route) (*servingv1.Route, error) { return c.Create(ctx, o, metav1.CreateOptions{}) },
			get:    func(name string) (*servingv1.Route, error) { return c.Get(ctx, name, metav1.GetOptions{}) },
			list: func() (int, error) {
				l, err := c.List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			watch:  func(name string) (watch.Interface, error) { return c.Watch(ctx, singleObject(name)) },
			update: func(o *servingv1.Route) (*servingv1.Route, error) { return c.Update(ctx, o, metav1.UpdateOptions{}) },
			updateStatus: func(o *servingv1.Route) (*servingv1.Route, error) {
				return c.UpdateStatus(ctx, o, metav1.UpdateOptions{})
			},
			status: func(o *servingv1.Route) *duckv1.Status { return &o.Status.Status },
		}, &servingv1.Route{
			ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
			Spec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{{
				ConfigurationName: "hello", Percent: ptrTo[int64](100),
			}}},
		}, ready)
	})
	t.Run("PodAutoscaler", func(t *testing.T) {
		c := client.AutoscalingV1alpha1().PodAutoscalers(ns)
		exerciseKind(t, kindClient[*autoscalingv1alpha1.PodAutoscaler]{
			create: func(o *autoscalingv1alpha1.PodAutoscaler) (*autoscalingv1alpha1.PodAutoscaler, error) {
				return c.Create(ctx, o, metav1.CreateOptions{})
			},
			get: func(name string) (*autoscalingv1alpha1.PodAutoscaler, error) {
				return c.Get(ctx, name, metav1.GetOptions{})
			},
			list: func() (int, error) {
				l, err := c.List(ctx, metav1.ListOptions{})
				if err != nil {
					return 0, err
				}
				return len(l.Items), nil
			},
			watch: func(name string) (watch.Interface, error) { return c.Watch(ctx, singleObject(name)) },
			update: func(o *autoscalingv1alpha1.PodAutoscaler) (*autoscalingv1alpha1.PodAutoscaler, error) {
				return c.Update(ctx, o, metav1.UpdateOptions{})
			},
			updateStatus: func(o *autoscalingv1alpha1.PodAutoscaler) (*autoscalingv1alpha1.PodAutoscaler, error) {
				return c.UpdateStatus(ctx, o, metav1.UpdateOptions{})
			},
			status: func(o *autoscalingv1alpha1.PodAutoscaler) *duckv1.Status { return &o.Status.Status },
		}, &autoscalingv1alpha1.PodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: ns},
			Spec: autoscalingv1alpha1.PodAutoscalerSpec{
				ScaleTargetRef: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "hello-00001-deployment"},
				ProtocolType:   autoscalingv1alpha1.ProtocolHTTP1,
			},
		}, ready)
	})
}

// kindClient is the typed verbs of one kind, so one test body covers all.
type kindClient[T metav1.Object] struct {
	create       func(T) (T, error)
	get          func(name string) (T, error)
	list         func() (int, error)
	watch        func(name string) (watch.Interface, error)
	update       func(T) (T, error)
	updateStatus func(T) (T, error)
	status       func(T) *duckv1.Status
}

func exerciseKind[T metav1.Object](t *testing.T, c kindClient[T], obj T, cond apis.Condition) {
	t.Helper()
	created, err := c.create(obj)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := c.get(created.GetName())
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.GetUID() != created.GetUID() {
		t.Errorf("get returned UID %s, created %s", got.GetUID(), created.GetUID())
	}
	if n, err := c.list(); err != nil || n != 1 {
		t.Errorf("list = %d items, %v; want 1 item", n, err)
	}

	w, err := c.watch(created.GetName())
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	labels := got.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["exercised"] = "true"
	got.SetLabels(labels)
	updated, err := c.update(got)
	if err != nil {
		t.Fatalf("update: %v", err)
	}

	c.status(updated).ObservedGeneration = updated.GetGeneration()
	c.status(updated).Conditions = duckv1.Conditions{cond}
	withStatus, err := c.updateStatus(updated)
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if s := c.status(withStatus); len(s.Conditions) != 1 || s.Conditions[0].Type != cond.Type || s.ObservedGeneration != updated.GetGeneration() {
		t.Errorf("status after UpdateStatus = %+v, want the Ready condition and observedGeneration %d", s, updated.GetGeneration())
	}

	// The watch must deliver the label change and the status change.
	var sawLabel, sawStatus bool
	deadline := time.After(10 * time.Second)
	for !sawLabel || !sawStatus {
		select {
		case ev := <-w.ResultChan():
			o, ok := ev.Object.(T)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			if o.GetLabels()["exercised"] == "true" {
				sawLabel = true
			}
			if len(c.status(o).Conditions) == 1 {
				sawStatus = true
			}
		case <-deadline:
			t.Fatalf("watch: saw label change %v, status change %v; want both", sawLabel, sawStatus)
		}
	}
}

func singleObject(name string) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: "metadata.name=" + name}
}

// TestFullServiceManifestRoundTrips applies a Knative Service that uses
// every part of the API and reads it back: nothing the user wrote may be
// dropped or changed (the webhook may only add defaults).
func TestFullServiceManifestRoundTrips(t *testing.T) {
	noControllerYet(t)
	ctx := context.Background()
	b, err := os.ReadFile("testdata/full-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "roundtrip")
	want["metadata"].(map[string]any)["namespace"] = ns

	dyn := dynamic.NewForConfigOrDie(cluster.RESTConfig())
	services := dyn.Resource(servingv1.SchemeGroupVersion.WithResource("services")).Namespace(ns)
	if _, err := services.Create(ctx, &unstructured.Unstructured{Object: want}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the full Service: %v", err)
	}
	got, err := services.Get(ctx, "full", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range missingOrChanged("", want, got.Object) {
		t.Error(d)
	}

	// The typed client must read the same object without losing fields.
	typed, err := versioned.NewForConfigOrDie(cluster.RESTConfig()).ServingV1().Services(ns).Get(ctx, "full", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := typed.Spec.Template.Spec.Containers; len(c) != 2 || c[0].Ports[0].ContainerPort != 9000 || c[0].ReadinessProbe.HTTPGet.Path != "/ready" {
		t.Errorf("typed read lost container details: %+v", c)
	}
	if tr := typed.Spec.Traffic; len(tr) != 3 || tr[1].Tag != "candidate" || *tr[1].Percent != 20 {
		t.Errorf("typed read lost traffic: %+v", tr)
	}
}

// missingOrChanged lists every leaf of want that got lacks or holds with a
// different value. got may have more (defaults).
func missingOrChanged(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": want an object, got " + typeName(got)}
		}
		var out []string
		for k, v := range w {
			out = append(out, missingOrChanged(path+"."+k, v, g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{path + ": want a list of " + itoa(len(w)) + ", got " + typeName(got)}
		}
		var out []string
		for i := range w {
			out = append(out, missingOrChanged(path+"["+itoa(i)+"]", w[i], g[i])...)
		}
		return out
	default:
		// YAML reads every number as float64; the API server's JSON gives
		// whole numbers as int64. The value is what must round-trip.
		if diff := cmp.Diff(asFloat(want), asFloat(got)); diff != "" {
			return []string{path + " (-want, +got):\n" + diff}
		}
		return nil
	}
}

func asFloat(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return v
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "an object"
	case []any:
		return "a list of " + itoa(len(v))
	default:
		return fmt.Sprintf("%v", v)
	}
}
