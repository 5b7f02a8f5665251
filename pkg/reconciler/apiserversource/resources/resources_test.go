package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/sources/apiserver"
)

func source(mutate func(*sourcesv1.ApiServerSource)) *sourcesv1.ApiServerSource {
	src := &sourcesv1.ApiServerSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "changes", UID: "uid-1"},
		Spec: sourcesv1.ApiServerSourceSpec{
			Resources:          []sourcesv1.APIVersionKindSelector{{APIVersion: "v1", Kind: "ConfigMap"}},
			Mode:               sourcesv1.EventModeReference,
			ServiceAccountName: "watcher",
		},
	}
	if mutate != nil {
		mutate(src)
	}
	return src
}

var configMaps = apiserver.Resource{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true}

func TestMakeDeployment(t *testing.T) {
	src := source(func(s *sourcesv1.ApiServerSource) {
		s.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "shop"}}
	})
	cfg := MakeAdapterConfig(src, []apiserver.Resource{configMaps}, Scope{Namespaces: []string{"shop"}}, "https://10.96.0.1:443")
	d, err := MakeDeployment(src, DeploymentArgs{Image: "ko://flywheel.dev/cmd/apiserversource-adapter", Sink: "http://sink.shop.svc.cluster.local", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}

	if d.Name != "changes-apiserversource" || d.Namespace != "shop" {
		t.Errorf("Deployment %s/%s, want shop/changes-apiserversource", d.Namespace, d.Name)
	}
	if owner := metav1.GetControllerOf(d); owner == nil || owner.Kind != "ApiServerSource" || owner.Name != "changes" || owner.UID != "uid-1" {
		t.Errorf("controller = %+v, want the ApiServerSource changes", owner)
	}
	if diff := cmp.Diff(map[string]string{SourceUIDLabel: "uid-1"}, d.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("selector (-want, +got):\n%s", diff)
	}
	if d.Spec.Template.Labels[SourceUIDLabel] != "uid-1" {
		t.Errorf("pod labels = %v, want the selector's", d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "watcher" {
		t.Errorf("serviceAccountName = %q, want the source's, watcher", pod.ServiceAccountName)
	}
	c := pod.Containers[0]
	if c.Image != "ko://flywheel.dev/cmd/apiserversource-adapter" {
		t.Errorf("image = %q", c.Image)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env[sources.SinkEnv] != "http://sink.shop.svc.cluster.local" {
		t.Errorf("%s = %q, want the sink", sources.SinkEnv, env[sources.SinkEnv])
	}
	if env[sources.CEOverridesEnv] != `{"extensions":{"team":"shop"}}` {
		t.Errorf("%s = %q, want the overrides as JSON", sources.CEOverridesEnv, env[sources.CEOverridesEnv])
	}
	got, err := apiserver.Decode(env[apiserver.ConfigEnv])
	if err != nil {
		t.Fatalf("the adapter could not read its config: %v", err)
	}
	if diff := cmp.Diff(cfg, got); diff != "" {
		t.Errorf("config (-want, +got):\n%s", diff)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet.Path != apiserver.ReadyPath || p.HTTPGet.Port.StrVal != c.Ports[0].Name || c.Ports[0].ContainerPort != apiserver.ProbePort {
		t.Errorf("readiness probe %+v on ports %+v, want %s on %d", p, c.Ports, apiserver.ReadyPath, apiserver.ProbePort)
	}
}

func TestMakeDeploymentWithoutOverridesSetsNoVariable(t *testing.T) {
	d, err := MakeDeployment(source(nil), DeploymentArgs{Image: "img", Sink: "http://sink", Config: MakeAdapterConfig(source(nil), []apiserver.Resource{configMaps}, Scope{}, "https://api")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == sources.CEOverridesEnv {
			t.Errorf("%s = %q set for a source without ceOverrides", e.Name, e.Value)
		}
	}
}

func TestMakeAdapterConfig(t *testing.T) {
	src := source(func(s *sourcesv1.ApiServerSource) {
		s.Spec.Mode = ""
		s.Spec.Owner = &sourcesv1.APIVersionKind{APIVersion: "apps/v1", Kind: "ReplicaSet"}
	})
	got := MakeAdapterConfig(src, []apiserver.Resource{configMaps}, Scope{All: true}, "https://api")
	want := apiserver.Config{
		SourceNamespace: "shop", SourceName: "changes", CloudEventSource: "https://api",
		Mode:          "Reference",
		Resources:     []apiserver.Resource{configMaps},
		Owner:         &apiserver.Owner{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		AllNamespaces: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MakeAdapterConfig (-want, +got):\n%s", diff)
	}
}

func TestCloudEventAttributes(t *testing.T) {
	for mode, types := range map[sourcesv1.EventMode][]string{
		sourcesv1.EventModeReference: {"dev.knative.apiserver.ref.add", "dev.knative.apiserver.ref.update", "dev.knative.apiserver.ref.delete"},
		sourcesv1.EventModeResource:  {"dev.knative.apiserver.resource.add", "dev.knative.apiserver.resource.update", "dev.knative.apiserver.resource.delete"},
	} {
		var want []duckv1.CloudEventAttributes
		for _, ty := range types {
			want = append(want, duckv1.CloudEventAttributes{Type: ty, Source: "https://10.96.0.1:443"})
		}
		got := CloudEventAttributes(source(func(s *sourcesv1.ApiServerSource) { s.Spec.Mode = mode }), "https://10.96.0.1:443")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: CloudEventAttributes (-want, +got):\n%s", mode, diff)
		}
	}
}

func TestServiceAccountDefaults(t *testing.T) {
	if got := ServiceAccount(source(func(s *sourcesv1.ApiServerSource) { s.Spec.ServiceAccountName = "" })); got != "default" {
		t.Errorf("ServiceAccount of a source naming none = %q, want default", got)
	}
}
