package service

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// serverSet gives s what the server sets besides its status.
func serverSet(s *servingv1.Service) {
	s.UID = types.UID("0b6a3c38-5b0e-4f4e-9a55-7b0a3e1c2d4f")
	s.ResourceVersion = "812"
	s.Annotations = map[string]string{
		serving.CreatorAnnotation.String():      "alice",
		serving.LastModifierAnnotation.String(): "bob",
		"team":                                  "web",
	}
}

func TestExportPrintsTheServiceWithoutWhatTheServerSet(t *testing.T) {
	live := svc("hello", serverSet)
	out, _, err := run(t, []runtime.Object{live}, "export", "hello", "-o", "json")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	var got servingv1.Service
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
		t.Fatalf("the export is not a Service: %v\n%s", err, out)
	}
	want := servingv1.Service{ObjectMeta: live.ObjectMeta, Spec: live.Spec}
	want.APIVersion, want.Kind = "serving.knative.dev/v1", "Service"
	want.UID, want.ResourceVersion, want.Generation, want.CreationTimestamp = "", "", 0, got.CreationTimestamp
	want.Annotations = map[string]string{"team": "web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("export (-want, +got):\n%s", diff)
	}
	if !got.CreationTimestamp.IsZero() || strings.Contains(out, `"status"`) {
		t.Errorf("the export keeps a timestamp or a status:\n%s", out)
	}
}

// TestExportWithRevisionsReplaysTheRoutedRevisions: --with-revisions
// --mode replay lists one Service a routed Revision, oldest first, with
// that Revision's template and name, then the Service with its split.
func TestExportWithRevisionsReplaysTheRoutedRevisions(t *testing.T) {
	live := svc("hello", split, func(s *servingv1.Service) { s.Spec.Traffic = s.Status.Traffic })
	old := rev("hello-00001", "1", time.Hour, digest, corev1.ConditionTrue, "", func(r *servingv1.Revision) {
		r.Annotations = map[string]string{
			serving.MinScaleAnnotation.String():  "1",
			serving.RoutesAnnotation.String():    "hello",
			serving.UserImageAnnotation.String(): "example.com/hello:v1",
			serving.CreatorAnnotation.String():   "alice",
		}
		r.Labels["team"] = "web"
	})
	// The Revision the current template made has the template's spec.
	current := rev("hello-00002", "2", time.Minute, digest, corev1.ConditionTrue, "", func(r *servingv1.Revision) {
		r.Spec = *live.Spec.Template.Spec.DeepCopy()
	})
	out, _, err := run(t, []runtime.Object{live, current, old}, "export", "hello", "--with-revisions", "--mode", "replay")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	var got servingv1.ServiceList
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
		t.Fatalf("the export is not a list of Services: %v\n%s", err, out)
	}
	if len(got.Items) != 2 {
		t.Fatalf("the export has %d Services, want one for hello-00001, then the Service:\n%s", len(got.Items), out)
	}
	first := got.Items[0].Spec
	wantTemplate := servingv1.RevisionTemplateSpec{}
	wantTemplate.Name = "hello-00001"
	wantTemplate.Labels = map[string]string{"team": "web"}
	wantTemplate.Annotations = map[string]string{
		serving.MinScaleAnnotation.String():  "1",
		serving.UserImageAnnotation.String(): "example.com/hello:v1",
	}
	wantTemplate.Spec = old.Spec
	if diff := cmp.Diff(wantTemplate, first.Template); diff != "" {
		t.Errorf("the first Service's template (-want, +got):\n%s", diff)
	}
	if first.Traffic != nil {
		t.Errorf("the first Service splits traffic %+v, want it all to its own Revision (none given)", first.Traffic)
	}
	last := got.Items[1].Spec
	if last.Template.Name != "hello-00002" {
		t.Errorf("the last Service's template is named %q, want hello-00002, the Revision it made", last.Template.Name)
	}
	if diff := cmp.Diff(live.Spec.Traffic, last.Traffic); diff != "" {
		t.Errorf("the last Service's traffic (-want, +got):\n%s", diff)
	}
}

func TestExportRefusesFlagsItCannotHonour(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "name"}, `--output "name": want yaml or json`},
		{[]string{"--mode", "replay"}, "give --with-revisions too"},
		{[]string{"--with-revisions"}, "--with-revisions needs --mode replay"},
		{[]string{"--with-revisions", "--mode", "export"}, "fw writes --mode replay"},
	} {
		_, client, err := run(t, nil, append([]string{"export", "hello"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want it to say %q", tc.args, err, tc.want)
		}
		if len(client.Actions()) > 0 {
			t.Errorf("%v: the command called the API before refusing: %v", tc.args, client.Actions())
		}
	}
}
