package offline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

func TestMergePatch(t *testing.T) {
	target := map[string]any{"a": "1", "b": map[string]any{"c": "2", "d": "3"}, "e": []any{"x"}}
	patch := map[string]any{"a": nil, "b": map[string]any{"c": "4"}, "e": []any{"y"}, "f": "5"}
	want := map[string]any{"b": map[string]any{"c": "4", "d": "3"}, "e": []any{"y"}, "f": "5"}
	if diff := cmp.Diff(want, mergePatch(target, patch)); diff != "" {
		t.Errorf("mergePatch (-want, +got):\n%s", diff)
	}
}

func TestServicesInADirectory(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	client := Serving(dir)
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Labels: map[string]string{"team": "web"}}}
	if _, err := client.Services("demo").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo", "ksvc", "hello.yaml")); err != nil {
		t.Fatalf("kn's layout: %v", err)
	}
	if _, err := client.Services("prod").Get(ctx, "hello", metav1.GetOptions{}); !apierrs.IsNotFound(err) {
		t.Errorf("Get in another namespace: %v, want NotFound", err)
	}
	patched, err := client.Services("demo").Patch(ctx, "hello", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":null,"tier":"front"}}}`), metav1.PatchOptions{})
	if err != nil || !cmp.Equal(patched.Labels, map[string]string{"tier": "front"}) {
		t.Errorf("Patch = %v, %v; want labels tier=front alone", patched, err)
	}
	if _, err := client.Services("demo").Patch(ctx, "hello", types.StrategicMergePatchType, []byte(`{}`), metav1.PatchOptions{}); err == nil {
		t.Error("a strategic merge patch was applied; the files know no schema for it")
	}
	for _, tc := range []struct {
		ns, selector string
		want         int
	}{{"demo", "", 1}, {"", "", 1}, {"prod", "", 0}, {"demo", "tier=front", 1}, {"demo", "tier=back", 0}} {
		list, err := client.Services(tc.ns).List(ctx, metav1.ListOptions{LabelSelector: tc.selector})
		if err != nil || len(list.Items) != tc.want {
			t.Errorf("List(namespace %q, selector %q) = %d Services, %v; want %d", tc.ns, tc.selector, len(list.Items), err, tc.want)
		}
	}

	// The kinds a cluster makes of a Service are not in the files.
	if revs, err := client.Revisions("demo").List(ctx, metav1.ListOptions{}); err != nil || len(revs.Items) != 0 {
		t.Errorf("Revisions: %v, %v; want none", revs, err)
	}
	if _, err := client.Routes("demo").Get(ctx, "hello", metav1.GetOptions{}); !apierrs.IsNotFound(err) {
		t.Errorf("Route Get: %v, want NotFound", err)
	}
	if _, err := client.Configurations("demo").Create(ctx, &servingv1.Configuration{}, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "Configurations are what a cluster makes") {
		t.Errorf("Configuration Create: %v, want it refused", err)
	}
	if _, err := client.Services("demo").Watch(ctx, metav1.ListOptions{}); err == nil {
		t.Error("a file was watched")
	}
}

func TestAFileThatIsNotAService(t *testing.T) {
	file := filepath.Join(t.TempDir(), "route.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata:\n  name: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Serving(file).Services("demo").Get(t.Context(), "hello", metav1.GetOptions{})
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), `kind "Route"`) {
		t.Errorf("Get = %v, want an error naming the file and its kind", err)
	}
}
