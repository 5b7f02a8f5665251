package flags

import (
	"regexp"
	"testing"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

func withServiceLabels(kv ...string) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Labels = keyValues(kv) }
}

func withTemplateLabels(kv ...string) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Template.Labels = keyValues(kv) }
}

func withRevisionName(name string) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Template.Name = name }
}

func keyValues(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestMetadataFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *servingv1.Service
		args []string
		want *servingv1.Service
	}{{
		name: "labels on both, then on one; the specific flags win",
		in:   service(),
		args: []string{"-l", "team=web", "--label", "tier=front", "--label-service", "tier=edge", "--label-revision", "canary=yes"},
		want: service(withServiceLabels("team", "web", "tier", "edge"), withTemplateLabels("team", "web", "tier", "front", "canary", "yes")),
	}, {
		name: "a label removed from both",
		in:   service(withServiceLabels("team", "web", "keep", "me"), withTemplateLabels("team", "web")),
		args: []string{"--label", "team-"},
		want: service(withServiceLabels("keep", "me"), withTemplateLabels()),
	}, {
		name: "annotations of the Service or the revision alone",
		in:   service(withServiceAnnotations("note", "old")),
		args: []string{"--annotation", "owner=ops", "--annotation-service", "note-", "--annotation-revision", "owner=dev"},
		want: service(withServiceAnnotations("owner", "ops"), withTemplateAnnotations("owner", "dev")),
	}, {
		name: "an autoscaling annotation removed from both",
		in:   service(withServiceAnnotations("autoscaling.knative.dev/window", "30s"), withTemplateAnnotations("autoscaling.knative.dev/window", "30s")),
		args: []string{"--annotation", "autoscaling.knative.dev/window-"},
		want: service(withServiceAnnotations(), withTemplateAnnotations()),
	}, {
		name: "cluster-local",
		in:   service(),
		args: []string{"--cluster-local"},
		want: service(withServiceLabels("networking.knative.dev/visibility", "cluster-local")),
	}, {
		name: "no longer cluster-local",
		in:   service(withServiceLabels("networking.knative.dev/visibility", "cluster-local", "team", "web")),
		args: []string{"--no-cluster-local"},
		want: service(withServiceLabels("team", "web")),
	}, {
		name: "--cluster-local=false is --no-cluster-local",
		in:   service(withServiceLabels("networking.knative.dev/visibility", "cluster-local")),
		args: []string{"--cluster-local=false"},
		want: service(withServiceLabels()),
	}} {
		t.Run(tc.name, func(t *testing.T) { appliesAs(t, tc.in, tc.args, tc.want) })
	}
}

// TestRevisionNames covers --revision-name, and what becomes of a name
// chosen earlier when the template changes without it.
func TestRevisionNames(t *testing.T) {
	atGeneration := func(g int64) func(*servingv1.Service) {
		return func(s *servingv1.Service) { s.Generation = g }
	}
	for _, tc := range []struct {
		name string
		in   *servingv1.Service
		args []string
		want string // a regular expression for the whole name
	}{
		{"a name as given", service(), []string{"--revision-name", "hello-v1"}, `hello-v1`},
		{"a template", service(atGeneration(3)), []string{"--revision-name", "{{.Service}}-{{.Generation}}"}, `hello-4`},
		{"random consonants", service(), []string{"--revision-name", "{{.Service}}-{{.Random 5}}-{{.Generation}}"}, `hello-[bcdfghjklmnpqrstvwxz]{5}-1`},
		{"empty lets the server name it", service(withRevisionName("hello-v1")), []string{"--revision-name", ""}, ``},
		{
			"a template does not rename an unchanged template",
			service(withRevisionName("hello-v1")), []string{"--revision-name", "{{.Service}}-{{.Random 5}}"}, `hello-v1`,
		},
		{
			"a template renames a changed one",
			service(withRevisionName("hello-v1")), []string{"--revision-name", "{{.Service}}-{{.Random 5}}", "--env", "A=2"}, `hello-[a-z]{5}`,
		},
		{"without the flag, a change drops the old name", service(withRevisionName("hello-v1")), []string{"--image", "ko://example.com/hello/v2"}, ``},
		{"without the flag, a traffic change keeps it", service(withRevisionName("hello-v1")), []string{"--tag", "hello-v1=current"}, `hello-v1`},
		{"without the flag, nothing changes it", service(withRevisionName("hello-v1")), nil, `hello-v1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			if err := apply(t, got, tc.args...); err != nil {
				t.Fatalf("Apply(%v) = %v", tc.args, err)
			}
			if name := got.Spec.Template.Name; !regexp.MustCompile(`^` + tc.want + `$`).MatchString(name) {
				t.Errorf("Apply(%v): the template's name is %q, want it to match %q", tc.args, name, tc.want)
			}
		})
	}
}

func TestMetadataFlagsRefuseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"a label without =", []string{"--label", "team"}, []string{"--label", `"team"`, "KEY=VALUE"}},
		{"a revision annotation without a key", []string{"--annotation-revision", "=x"}, []string{"--annotation-revision", "KEY=VALUE"}},
		{"both visibilities", []string{"--cluster-local", "--no-cluster-local"}, []string{"--cluster-local and --no-cluster-local contradict"}},
		{"a revision name of another Service", []string{"--revision-name", "other-v1"}, []string{"--revision-name", "starts with its Service's name and a dash", "hello-v2"}},
		{"a revision name that is not a DNS label", []string{"--revision-name", "hello-V1"}, []string{"--revision-name", `"hello-V1" is not a valid name`}},
		{"a template that does not parse", []string{"--revision-name", "{{.Service"}, []string{"--revision-name", "{{.Generation}}"}},
		{"a template with an unknown field", []string{"--revision-name", "{{.Namespace}}"}, []string{"--revision-name", "Namespace"}},
	} {
		t.Run(tc.name, func(t *testing.T) { refuses(t, service(), tc.args, tc.want) })
	}
}
