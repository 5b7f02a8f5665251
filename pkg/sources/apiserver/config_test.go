package apiserver

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fullConfig sets every field, so that the tests below see each one.
func fullConfig() Config {
	return Config{
		SourceNamespace:  "shop",
		SourceName:       "changes",
		CloudEventSource: "https://10.96.0.1:443",
		Mode:             "Resource",
		Resources: []Resource{
			{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true, LabelSelector: "watched=yes"},
			{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true},
		},
		Owner:         &Owner{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		AllNamespaces: true,
		Namespaces:    []string{"shop", "web"},
	}
}

func TestConfigRoundTrip(t *testing.T) {
	want := fullConfig()
	raw, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(raw)
	if err != nil {
		t.Fatalf("Decode(Encode()) = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want, +got):\n%s", diff)
	}
}

// TestConfigJSONNames pins the JSON the reconciler writes and the adapter
// reads: an adapter of one release runs from a Deployment a controller of
// the next one may have written.
func TestConfigJSONNames(t *testing.T) {
	raw, err := fullConfig().Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sourceNamespace":"shop","sourceName":"changes","ceSource":"https://10.96.0.1:443","mode":"Resource",` +
		`"resources":[{"group":"","version":"v1","resource":"configmaps","kind":"ConfigMap","namespaced":true,"labelSelector":"watched=yes"},` +
		`{"group":"apps","version":"v1","resource":"deployments","kind":"Deployment","namespaced":true}],` +
		`"owner":{"apiVersion":"apps/v1","kind":"ReplicaSet"},"allNamespaces":true,"namespaces":["shop","web"]}`
	if diff := cmp.Diff(want, raw); diff != "" {
		t.Errorf("Encode (-want, +got):\n%s", diff)
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{{
		name: "unset",
		raw:  "",
		want: []string{ConfigEnv + " is not set"},
	}, {
		name: "not JSON",
		raw:  "{",
		want: []string{ConfigEnv + " is not the adapter config as JSON"},
	}, {
		name: "empty object",
		raw:  "{}",
		want: []string{"ceSource is empty", "mode is empty", "resources is empty"},
	}, {
		name: "a resource without its name",
		raw:  `{"ceSource":"https://api","mode":"Reference","resources":[{"version":"v1"}]}`,
		want: []string{"resources[0] has no resource"},
	}, {
		name: "an empty owner",
		raw:  `{"ceSource":"https://api","mode":"Reference","resources":[{"version":"v1","resource":"pods"}],"owner":{}}`,
		want: []string{"owner names neither apiVersion nor kind"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.raw)
			if err == nil {
				t.Fatal("Decode returned no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestResourceAPIVersion(t *testing.T) {
	for want, r := range map[string]Resource{
		"v1":      {Version: "v1", Resource: "configmaps"},
		"apps/v1": {Group: "apps", Version: "v1", Resource: "deployments"},
	} {
		if got := r.APIVersion(); got != want {
			t.Errorf("%+v.APIVersion() = %q, want %q", r, got, want)
		}
	}
}

// TestImportsOnlyTheStandardLibrary keeps the contract light (the event
// type names aside): the reconciler links it, and must not link the
// adapter's watchers with it.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := []string{"flywheel.dev/pkg/apis/sources", "flywheel.dev/pkg/sources/apiserver"}
	if diff := cmp.Diff(want, strings.Fields(string(out))); diff != "" {
		t.Errorf("non-standard dependencies (-want, +got):\n%s", diff)
	}
}

func TestEventType(t *testing.T) {
	tests := []struct {
		change      Change
		wholeObject bool
		want        string
	}{
		{Added, true, "dev.knative.apiserver.resource.add"},
		{Updated, true, "dev.knative.apiserver.resource.update"},
		{Deleted, true, "dev.knative.apiserver.resource.delete"},
		{Added, false, "dev.knative.apiserver.ref.add"},
		{Updated, false, "dev.knative.apiserver.ref.update"},
		{Deleted, false, "dev.knative.apiserver.ref.delete"},
	}
	for _, tc := range tests {
		if got := EventType(tc.change, tc.wholeObject); got != tc.want {
			t.Errorf("EventType(%s, wholeObject %v) = %q, want %q", tc.change, tc.wholeObject, got, tc.want)
		}
	}
}

func TestNamespacesOf(t *testing.T) {
	namespaced := Resource{Version: "v1", Resource: "configmaps", Namespaced: true}
	clusterScoped := Resource{Version: "v1", Resource: "namespaces"}
	tests := []struct {
		name string
		cfg  Config
		res  Resource
		want []string
	}{
		{"namespaced, in the listed namespaces", Config{Namespaces: []string{"shop", "web"}}, namespaced, []string{"shop", "web"}},
		{"namespaced, every namespace", Config{AllNamespaces: true, Namespaces: []string{"shop"}}, namespaced, []string{""}},
		{"cluster-scoped", Config{Namespaces: []string{"shop"}}, clusterScoped, []string{""}},
		{"namespaced, no namespace matched", Config{}, namespaced, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.cfg.NamespacesOf(tc.res)); diff != "" {
				t.Errorf("NamespacesOf (-want, +got):\n%s", diff)
			}
		})
	}
}
