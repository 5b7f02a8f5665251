package flags

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

func withContainer(edit func(*corev1.Container)) func(*servingv1.Service) {
	return func(s *servingv1.Service) { edit(&s.Spec.Template.Spec.Containers[0]) }
}

func withRevisionSpec(edit func(*servingv1.RevisionSpec)) func(*servingv1.Service) {
	return func(s *servingv1.Service) { edit(&s.Spec.Template.Spec) }
}

func resources(kv ...string) corev1.ResourceList {
	list := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		list[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return list
}

func TestContainerFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *servingv1.Service
		args []string
		want *servingv1.Service
	}{{
		name: "command and arguments, in order",
		in:   service(),
		args: []string{"--cmd", "/app/server", "--arg", "--verbose", "--arg", "--listen=:8080", "--arg", "a,b"},
		want: service(withContainer(func(c *corev1.Container) {
			c.Command = []string{"/app/server"}
			c.Args = []string{"--verbose", "--listen=:8080", "a,b"}
		})),
	}, {
		name: "an empty command goes back to the entrypoint, the arguments stay",
		in: service(withContainer(func(c *corev1.Container) {
			c.Command, c.Args = []string{"sh", "-c"}, []string{"serve"}
		})),
		args: []string{"--cmd", ""},
		want: service(withContainer(func(c *corev1.Container) { c.Args = []string{"serve"} })),
	}, {
		name: "user and pull policy, in any case",
		in:   service(),
		args: []string{"--user", "1001", "--pull-policy", "ifnotpresent"},
		want: service(withContainer(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1001)}
			c.ImagePullPolicy = corev1.PullIfNotPresent
		})),
	}, {
		name: "the user keeps the rest of the security context",
		in: service(withContainer(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true)}
		})),
		args: []string{"--user", "0"},
		want: service(withContainer(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true), RunAsUser: ptr.To[int64](0)}
		})),
	}, {
		name: "requests and limits set, changed and removed",
		in: service(withContainer(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{Requests: resources("cpu", "1", "memory", "1Gi"), Limits: resources("memory", "2Gi")}
		})),
		args: []string{"--request", "cpu=250m,memory-", "--limit", "memory=256Mi", "--limit", "nvidia.com/gpu=1"},
		want: service(withContainer(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{Requests: resources("cpu", "250m"), Limits: resources("memory", "256Mi", "nvidia.com/gpu", "1")}
		})),
	}, {
		name: "removing the last request leaves none",
		in: service(withContainer(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{Requests: resources("cpu", "1")}
		})),
		args: []string{"--request", "cpu-"},
		want: service(),
	}, {
		name: "service account and timeout",
		in:   service(),
		args: []string{"--service-account", "reader", "--timeout", "60"},
		want: service(withRevisionSpec(func(s *servingv1.RevisionSpec) {
			s.ServiceAccountName = "reader"
			s.TimeoutSeconds = ptr.To[int64](60)
		})),
	}, {
		name: "an empty service account goes back to the default",
		in:   service(withRevisionSpec(func(s *servingv1.RevisionSpec) { s.ServiceAccountName = "reader" })),
		args: []string{"--service-account", ""},
		want: service(),
	}} {
		t.Run(tc.name, func(t *testing.T) { appliesAs(t, tc.in, tc.args, tc.want) })
	}
}

func TestContainerFlagsRefuseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"a negative user", []string{"--user", "-1"}, []string{"--user -1", "0 or more"}},
		{"an unknown pull policy", []string{"--pull-policy", "sometimes"}, []string{"--pull-policy", `"sometimes"`, "Always, IfNotPresent or Never"}},
		{"a request without a quantity", []string{"--request", "cpu"}, []string{"--request", `"cpu"`, "NAME=QUANTITY"}},
		{"a limit that is not a quantity", []string{"--limit", "memory=lots"}, []string{"--limit", `"lots" is not a quantity`}},
		{"a zero timeout", []string{"--timeout", "0"}, []string{"--timeout 0", "1 or more"}},
	} {
		t.Run(tc.name, func(t *testing.T) { refuses(t, service(), tc.args, tc.want) })
	}
}
