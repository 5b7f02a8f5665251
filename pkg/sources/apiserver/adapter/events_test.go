package adapter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"flywheel.dev/pkg/apis/sources"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/sources/apiserver"
)

var (
	configMaps  = apiserver.Resource{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true}
	deployments = apiserver.Resource{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true}
	namespaces  = apiserver.Resource{Version: "v1", Resource: "namespaces", Kind: "Namespace"}
	roles       = apiserver.Resource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles", Kind: "ClusterRole"}
)

// object is an object as the dynamic client returns it.
func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	metadata := map[string]any{"name": name}
	if namespace != "" {
		metadata["namespace"] = namespace
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind, "metadata": metadata,
	}}
}

// attributes is what a test checks of an event besides its data.
type attributes struct {
	ID, Type, Source, Subject, DataContentType string
	Time                                       time.Time
	Extensions                                 map[string]any
}

func TestEventOfEachModeAndChange(t *testing.T) {
	when := time.Date(2026, 12, 10, 9, 30, 0, 0, time.UTC)
	maker := func(mode sourcesv1.EventMode) eventMaker {
		return eventMaker{source: "https://10.96.0.1:443", mode: string(mode), newID: func() string { return "id-1" }, now: func() time.Time { return when }}
	}
	watched := object("v1", "ConfigMap", "shop", "watched")
	watched.Object["data"] = map[string]any{"color": "blue"}
	wantRef := `{"kind":"ConfigMap","namespace":"shop","name":"watched","apiVersion":"v1"}`
	wantObject := `{"apiVersion":"v1","data":{"color":"blue"},"kind":"ConfigMap","metadata":{"name":"watched","namespace":"shop"}}`

	tests := []struct {
		mode     sourcesv1.EventMode
		change   apiserver.Change
		wantType string
		wantData string
	}{
		{sourcesv1.EventModeResource, apiserver.Added, sources.ApiServerSourceAddEventType, wantObject},
		{sourcesv1.EventModeResource, apiserver.Updated, sources.ApiServerSourceUpdateEventType, wantObject},
		{sourcesv1.EventModeResource, apiserver.Deleted, sources.ApiServerSourceDeleteEventType, wantObject},
		{sourcesv1.EventModeReference, apiserver.Added, sources.ApiServerSourceAddRefEventType, wantRef},
		{sourcesv1.EventModeReference, apiserver.Updated, sources.ApiServerSourceUpdateRefEventType, wantRef},
		{sourcesv1.EventModeReference, apiserver.Deleted, sources.ApiServerSourceDeleteRefEventType, wantRef},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode)+" "+tc.change.String(), func(t *testing.T) {
			ev, err := maker(tc.mode).make(tc.change, configMaps, watched)
			if err != nil {
				t.Fatal(err)
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("the event is not a valid CloudEvent: %v", err)
			}
			got := attributes{
				ID: ev.ID(), Type: ev.Type(), Source: ev.Source(), Subject: ev.Subject(),
				DataContentType: ev.DataContentType(), Time: ev.Time(), Extensions: ev.Extensions(),
			}
			want := attributes{
				ID: "id-1", Type: tc.wantType, Source: "https://10.96.0.1:443",
				Subject: "/apis/v1/namespaces/shop/configmaps/watched", DataContentType: "application/json", Time: when,
				Extensions: map[string]any{"kind": "ConfigMap", "name": "watched", "namespace": "shop"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("attributes (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantData, string(ev.Data())); diff != "" {
				t.Errorf("data (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestEventOfAClusterScopedObjectHasNoNamespace(t *testing.T) {
	m := eventMaker{source: "https://api", mode: string(sourcesv1.EventModeReference), newID: func() string { return "1" }, now: time.Now}
	ev, err := m.make(apiserver.Added, namespaces, object("v1", "Namespace", "", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Extensions()[NamespaceExtension]; ok {
		t.Errorf("extensions = %v, want no namespace for a cluster-scoped object", ev.Extensions())
	}
	var ref map[string]string
	if err := json.Unmarshal(ev.Data(), &ref); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"apiVersion": "v1", "kind": "Namespace", "name": "shop"}, ref); diff != "" {
		t.Errorf("reference (-want, +got):\n%s", diff)
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		name string
		res  apiserver.Resource
		obj  *unstructured.Unstructured
		want string
	}{{
		name: "core group: /apis/v1, as Knative writes it",
		res:  configMaps,
		obj:  object("v1", "ConfigMap", "shop", "prices"),
		want: "/apis/v1/namespaces/shop/configmaps/prices",
	}, {
		name: "named group",
		res:  deployments,
		obj:  object("apps/v1", "Deployment", "shop", "web"),
		want: "/apis/apps/v1/namespaces/shop/deployments/web",
	}, {
		name: "cluster-scoped, core group",
		res:  namespaces,
		obj:  object("v1", "Namespace", "", "shop"),
		want: "/apis/v1/namespaces/shop",
	}, {
		name: "cluster-scoped, named group",
		res:  roles,
		obj:  object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "view"),
		want: "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Subject(tc.res, tc.obj); got != tc.want {
				t.Errorf("Subject = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAnUnknownModeSendsReferences(t *testing.T) {
	m := eventMaker{source: "https://api", mode: "Full", newID: func() string { return "1" }, now: time.Now}
	ev, err := m.make(apiserver.Added, configMaps, object("v1", "ConfigMap", "shop", "prices"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type() != sources.ApiServerSourceAddRefEventType {
		t.Errorf("type = %q, want %q", ev.Type(), sources.ApiServerSourceAddRefEventType)
	}
}
