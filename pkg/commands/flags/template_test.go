package flags

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// service is a Service as the API returns it after the webhook
// defaulted it: one container, all traffic to the latest revision.
func service(opts ...func(*servingv1.Service)) *servingv1.Service {
	s := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo"},
		Spec: servingv1.ServiceSpec{
			ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
				Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "user-container", Image: "ko://example.com/hello",
					Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
				}}}},
			}},
			RouteSpec: servingv1.RouteSpec{Traffic: []servingv1.TrafficTarget{latest(100)}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withTemplateAnnotations(kv ...string) func(*servingv1.Service) {
	return func(s *servingv1.Service) {
		s.Spec.Template.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			s.Spec.Template.Annotations[kv[i]] = kv[i+1]
		}
	}
}

// userImage is the annotation that keeps the image a digest was locked
// from.
var userImage = serving.UserImageAnnotation.String()

func withServiceAnnotations(kv ...string) func(*servingv1.Service) {
	return func(s *servingv1.Service) {
		s.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func withEnv(env ...corev1.EnvVar) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Template.Spec.Containers[0].Env = env }
}

func withImage(image string) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Template.Spec.Containers[0].Image = image }
}

func withPullSecrets(names ...string) func(*servingv1.Service) {
	return func(s *servingv1.Service) {
		for _, n := range names {
			s.Spec.Template.Spec.ImagePullSecrets = append(s.Spec.Template.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: n})
		}
	}
}

func withPorts(ports ...corev1.ContainerPort) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Template.Spec.Containers[0].Ports = ports }
}

func withConcurrency(n int64) func(*servingv1.Service) {
	return func(s *servingv1.Service) { s.Spec.Template.Spec.ContainerConcurrency = ptr.To(n) }
}

func latest(percent int64) servingv1.TrafficTarget {
	return servingv1.TrafficTarget{LatestRevision: ptr.To(true), Percent: ptr.To(percent)}
}

func revision(name string, percent int64) servingv1.TrafficTarget {
	return servingv1.TrafficTarget{RevisionName: name, LatestRevision: ptr.To(false), Percent: ptr.To(percent)}
}

func tagged(tag string, tt servingv1.TrafficTarget) servingv1.TrafficTarget {
	tt.Tag = tag
	return tt
}

// apply parses args as the flags of `fw service update` and applies them.
func apply(t *testing.T, svc *servingv1.Service, args ...string) error {
	t.Helper()
	fs := pflag.NewFlagSet("update", pflag.ContinueOnError)
	var f ServiceFlags
	f.Add(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}
	return f.Apply(svc)
}

func TestApplyChangesOnlyWhatIsGiven(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *servingv1.Service
		args []string
		want *servingv1.Service
	}{{
		name: "no flags change nothing",
		in:   service(),
		want: service(),
	}, {
		name: "image",
		in:   service(),
		args: []string{"--image", "ko://example.com/hello/v2"},
		want: service(withImage("ko://example.com/hello/v2"), withTemplateAnnotations(userImage, "ko://example.com/hello/v2")),
	}, {
		name: "the same image again changes nothing",
		in:   service(),
		args: []string{"--image", "ko://example.com/hello"},
		want: service(),
	}, {
		name: "a new image replaces a locked digest and the tag it kept",
		in:   service(withImage("example.com/hello@sha256:aaaa"), withTemplateAnnotations(userImage, "example.com/hello:v1")),
		args: []string{"--image", "example.com/hello:v2"},
		want: service(withImage("example.com/hello:v2"), withTemplateAnnotations(userImage, "example.com/hello:v2")),
	}, {
		name: "no lock to digest goes back to the tag",
		in:   service(withImage("example.com/hello:v1@sha256:aaaa"), withTemplateAnnotations(userImage, "example.com/hello:v1")),
		args: []string{"--no-lock-to-digest"},
		want: service(withImage("example.com/hello:v1"), withTemplateAnnotations(userImage, "example.com/hello:v1")),
	}, {
		name: "no lock to digest leaves a digest of another repository alone",
		in:   service(withImage("example.com/other@sha256:aaaa"), withTemplateAnnotations(userImage, "example.com/hello:v1")),
		args: []string{"--no-lock-to-digest", "--lock-to-digest=false"},
		want: service(withImage("example.com/other@sha256:aaaa"), withTemplateAnnotations(userImage, "example.com/hello:v1")),
	}, {
		name: "a pull secret",
		in:   service(),
		args: []string{"--pull-secret", "regcred"},
		want: service(withPullSecrets("regcred")),
	}, {
		name: "an empty pull secret removes it",
		in:   service(withPullSecrets("regcred")),
		args: []string{"--pull-secret", ""},
		want: service(),
	}, {
		name: "env set in place, added at the end, removed",
		in:   service(),
		args: []string{"--env", "B=20", "-e", "C=3,with,commas", "--env", "A-"},
		want: service(withEnv(corev1.EnvVar{Name: "B", Value: "20"}, corev1.EnvVar{Name: "C", Value: "3,with,commas"})),
	}, {
		name: "removing a variable that is not there is no error",
		in:   service(),
		args: []string{"--env", "NOPE-"},
		want: service(),
	}, {
		name: "a value may contain = and end in -",
		in:   service(),
		args: []string{"--env", "A=x=y-"},
		want: service(withEnv(corev1.EnvVar{Name: "A", Value: "x=y-"}, corev1.EnvVar{Name: "B", Value: "2"})),
	}, {
		name: "port with protocol",
		in:   service(),
		args: []string{"--port", "h2c:9000"},
		want: service(withPorts(corev1.ContainerPort{Name: "h2c", ContainerPort: 9000})),
	}, {
		name: "the same port keeps what the API filled in",
		in:   service(withPorts(corev1.ContainerPort{ContainerPort: 8080, Protocol: corev1.ProtocolTCP})),
		args: []string{"--port", "8080"},
		want: service(withPorts(corev1.ContainerPort{ContainerPort: 8080, Protocol: corev1.ProtocolTCP})),
	}, {
		name: "concurrency limit",
		in:   service(),
		args: []string{"--concurrency-limit", "10"},
		want: service(withConcurrency(10)),
	}, {
		name: "concurrency limit 0 is no limit, and is set",
		in:   service(withConcurrency(10)),
		args: []string{"--concurrency-limit", "0"},
		want: service(withConcurrency(0)),
	}, {
		name: "scale flags become the template's autoscaling annotations",
		in:   service(),
		args: []string{"--scale-min", "1", "--scale-max", "5", "--scale-target", "50"},
		want: service(withTemplateAnnotations(
			"autoscaling.knative.dev/min-scale", "1",
			"autoscaling.knative.dev/max-scale", "5",
			"autoscaling.knative.dev/target", "50")),
	}, {
		name: "one scale flag leaves the others",
		in:   service(withTemplateAnnotations("autoscaling.knative.dev/min-scale", "1", "autoscaling.knative.dev/max-scale", "5")),
		args: []string{"--scale-max", "3"},
		want: service(withTemplateAnnotations("autoscaling.knative.dev/min-scale", "1", "autoscaling.knative.dev/max-scale", "3")),
	}, {
		name: "annotations go on the Service and its template; autoscaling ones on the template only",
		in:   service(),
		args: []string{"--annotation", "team=web", "-a", "autoscaling.knative.dev/window=30s"},
		want: service(
			withServiceAnnotations("team", "web"),
			withTemplateAnnotations("team", "web", "autoscaling.knative.dev/window", "30s")),
	}, {
		name: "annotation removal from both",
		in:   service(withServiceAnnotations("team", "web", "keep", "me"), withTemplateAnnotations("team", "web")),
		args: []string{"--annotation", "team-"},
		want: service(withServiceAnnotations("keep", "me"), withTemplateAnnotations()),
	}} {
		t.Run(tc.name, func(t *testing.T) { appliesAs(t, tc.in, tc.args, tc.want) })
	}
}

// appliesAs checks that applying args to in makes want.
func appliesAs(t *testing.T, in *servingv1.Service, args []string, want *servingv1.Service) {
	t.Helper()
	got := in.DeepCopy()
	if err := apply(t, got, args...); err != nil {
		t.Fatalf("Apply(%v) = %v", args, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply(%v) (-want, +got):\n%s", args, diff)
	}
}

func TestApplyToAnEmptyServiceMakesTheContainer(t *testing.T) {
	got := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	if err := apply(t, got, "--image", "ko://example.com/hello", "--env", "A=1", "--port", "8080"); err != nil {
		t.Fatal(err)
	}
	want := []corev1.Container{{
		Image: "ko://example.com/hello",
		Env:   []corev1.EnvVar{{Name: "A", Value: "1"}},
		Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
	}}
	if diff := cmp.Diff(want, got.Spec.Template.Spec.Containers); diff != "" {
		t.Errorf("containers (-want, +got):\n%s", diff)
	}
	if got.Spec.Traffic != nil {
		t.Errorf("traffic = %+v, want it left to the API's default", got.Spec.Traffic)
	}
}

// TestApplyRefusesBadInput checks that each error names the flag and
// the fix, and that the Service is left as it was.
func TestApplyRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *servingv1.Service
		args []string
		want []string // each must appear in the error
	}{
		{"env without =", service(), []string{"--env", "A"}, []string{"--env", `"A"`, "NAME=VALUE", "NAME-"}},
		{"env without a name", service(), []string{"--env", "=x"}, []string{"--env", "NAME=VALUE"}},
		{"reserved env", service(), []string{"--env", "PORT=9000"}, []string{"--env", "PORT is set by the platform", "--port"}},
		{"port not a number", service(), []string{"--port", "http"}, []string{"--port", `"http"`, "from 1 to 65535"}},
		{"port out of range", service(), []string{"--port", "70000"}, []string{"--port", "from 1 to 65535"}},
		{"port with an unknown protocol", service(), []string{"--port", "grpc:9000"}, []string{"--port", "http1 or h2c"}},
		{"negative concurrency", service(), []string{"--concurrency-limit", "-1"}, []string{"--concurrency-limit -1", "0 (no limit) or more"}},
		{"annotation without =", service(), []string{"--annotation", "team"}, []string{"--annotation", "KEY=VALUE"}},
		{"negative min scale", service(), []string{"--scale-min", "-1"}, []string{"--scale-min -1", "0 or more"}},
		{"zero target", service(), []string{"--scale-target", "0"}, []string{"--scale-target 0", "1 or more"}},
		{"min above max", service(), []string{"--scale-min", "5", "--scale-max", "2"}, []string{"autoscaling.knative.dev/min-scale 5 is above autoscaling.knative.dev/max-scale 2", "raise --scale-max"}},
		{
			"min above the max already set", service(withTemplateAnnotations("autoscaling.knative.dev/max-scale", "2")),
			[]string{"--scale-min", "3"}, []string{"autoscaling.knative.dev/min-scale 3 is above autoscaling.knative.dev/max-scale 2"},
		},
		{"empty image", service(), []string{"--image", ""}, []string{"--image is empty"}},
		{"lock and not", service(), []string{"--lock-to-digest", "--no-lock-to-digest"}, []string{"--lock-to-digest and --no-lock-to-digest contradict"}},
		{"traffic not adding up", service(), []string{"--traffic", "@latest=90"}, []string{"--traffic @latest=90", "add up to 90, not 100", "--traffic @latest=100"}},
	} {
		t.Run(tc.name, func(t *testing.T) { refuses(t, tc.in, tc.args, tc.want) })
	}
}

// refuses checks that applying args to in fails with an error that says
// each of want, and leaves the Service as it was.
func refuses(t *testing.T, in *servingv1.Service, args, want []string) {
	t.Helper()
	got := in.DeepCopy()
	err := apply(t, got, args...)
	if err == nil {
		t.Fatalf("Apply(%v) = nil, want an error", args)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Apply(%v) = %q, want it to say %q", args, err, w)
		}
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("Apply changed the Service although it failed (-want, +got):\n%s", diff)
	}
}
