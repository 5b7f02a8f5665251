package v1

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

func service(name string) *Service {
	s := &Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: ServiceSpec{ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{
			Spec: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ko://example.com/hello"}}}},
		}}},
	}
	s.SetDefaults(context.Background())
	return s
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name   string
		ctx    context.Context
		change func(*Service)
		want   string
	}{{
		name:   "valid",
		change: func(*Service) {},
	}, {
		name:   "generateName",
		change: func(s *Service) { s.Name, s.GenerateName = "", "hello-" },
	}, {
		name:   "name not a DNS-1035 label",
		change: func(s *Service) { s.Name = "Hello" },
		want:   "metadata.name",
	}, {
		name:   "name longer than a DNS label",
		change: func(s *Service) { s.Name = strings.Repeat("a", 64) },
		want:   "metadata.name",
	}, {
		name:   "template errors are under spec.template",
		change: func(s *Service) { s.Spec.Template.Spec.Containers[0].Image = "" },
		want:   "spec.template.spec.containers[0].image",
	}, {
		name: "runAsUser below 0 is named by its full path",
		change: func(s *Service) {
			s.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](-1)}
		},
		want: "expected 0 <= -1 <= 2147483647: spec.template.spec.containers[0].securityContext.runAsUser",
	}, {
		name: "pod runAsUser below 0 is named by its full path",
		ctx:  withConfig(context.Background(), func(c *config.Config) { c.Features.PodSpecSecurityContext = config.Enabled }),
		change: func(s *Service) {
			s.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](-1)}
		},
		want: "expected 0 <= -1 <= 2147483647: spec.template.spec.securityContext.runAsUser",
	}, {
		name:   "service account name with Kubernetes' message and the full path",
		change: func(s *Service) { s.Spec.Template.Spec.ServiceAccountName = "-bad" },
		want: "invalid value: -bad: spec.template.spec.serviceAccountName\n" +
			strings.Join(validation.IsDNS1123Subdomain("-bad"), "; "),
	}, {
		name:   "revision name without the service prefix",
		change: func(s *Service) { s.Spec.Template.Name = "other-v1" },
		want:   "spec.template.metadata.name",
	}, {
		name: "traffic names a configuration",
		change: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](100)}}
		},
		want: "spec.traffic[0].configurationName",
	}, {
		name: "traffic percents add up to 50",
		change: func(s *Service) {
			s.Spec.Traffic = []TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](50)}}
		},
		want: "spec.traffic",
	}, {
		name: "invalid annotation on the template",
		change: func(s *Service) {
			s.Spec.Template.Annotations = map[string]string{serving.TargetUtilizationPercentageAnnotation.String(): "101"}
		},
		want: "spec.template.metadata.annotations[autoscaling.knative.dev/target-utilization-percentage]",
	}, {
		name: "creator changed on update",
		ctx: apis.WithinUpdate(context.Background(), func() *Service {
			s := service("hello")
			s.Annotations = map[string]string{serving.CreatorAnnotation.String(): "alice"}
			return s
		}()),
		change: func(s *Service) { s.Annotations = map[string]string{serving.CreatorAnnotation.String(): "mallory"} },
		want:   "metadata.annotations[serving.knative.dev/creator]",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			s := service("hello")
			tc.change(s)
			checkErr(t, s.Validate(ctx), tc.want)
		})
	}
}

func TestConfigurationValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Configuration)
		want   string
	}{{
		name:   "valid",
		change: func(*Configuration) {},
	}, {
		name:   "name not a DNS-1035 label",
		change: func(c *Configuration) { c.Name = "a.b" },
		want:   "metadata.name",
	}, {
		name:   "template errors are under spec.template",
		change: func(c *Configuration) { c.Spec.Template.Spec.ContainerConcurrency = ptr.To[int64](5000) },
		want:   "spec.template.spec.containerConcurrency",
	}, {
		name:   "revision name without the configuration prefix",
		change: func(c *Configuration) { c.Spec.Template.Name = "other-v1" },
		want:   "spec.template.metadata.name",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Configuration{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: service("hello").Spec.ConfigurationSpec}
			tc.change(c)
			checkErr(t, c.Validate(context.Background()), tc.want)
		})
	}
}

func TestServiceDefaultsTraffic(t *testing.T) {
	s := service("hello")
	want := []TrafficTarget{{LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}}
	if len(s.Spec.Traffic) != 1 || *s.Spec.Traffic[0].LatestRevision != *want[0].LatestRevision || *s.Spec.Traffic[0].Percent != 100 {
		t.Errorf("traffic = %+v, want all to the latest revision", s.Spec.Traffic)
	}
}

func TestUserInfo(t *testing.T) {
	creator := serving.CreatorAnnotation.String()
	modifier := serving.LastModifierAnnotation.String()
	tests := []struct {
		name   string
		ctx    func(old *Service) context.Context
		change func(*Service)
		want   map[string]string
	}{{
		name: "create records the user as creator and last modifier",
		ctx:  func(*Service) context.Context { return asUser(context.Background(), "alice") },
		want: map[string]string{creator: "alice", modifier: "alice"},
	}, {
		name: "no user, no annotations",
		ctx:  func(*Service) context.Context { return context.Background() },
	}, {
		name: "an update of the spec records the last modifier only",
		ctx: func(old *Service) context.Context {
			return apis.WithinUpdate(asUser(context.Background(), "bob"), old)
		},
		change: func(s *Service) { s.Spec.Template.Spec.Containers[0].Image = "other" },
		want:   map[string]string{creator: "alice", modifier: "bob"},
	}, {
		name: "an update of labels only leaves the last modifier",
		ctx: func(old *Service) context.Context {
			return apis.WithinUpdate(asUser(context.Background(), "bob"), old)
		},
		change: func(s *Service) { s.Labels = map[string]string{"team": "x"} },
		want:   map[string]string{creator: "alice", modifier: "alice"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := service("hello")
			old.Annotations = map[string]string{creator: "alice", modifier: "alice"}
			s := old.DeepCopy()
			ctx := tc.ctx(old)
			if !apis.IsInUpdate(ctx) {
				s.Annotations = nil
			}
			if tc.change != nil {
				tc.change(s)
			}
			s.SetDefaults(ctx)
			for k, v := range tc.want {
				if got := s.Annotations[k]; got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.want == nil && len(s.Annotations) > 0 {
				t.Errorf("annotations = %v, want none", s.Annotations)
			}
		})
	}
}

func TestUserInfoKeepsServiceOwnersRecord(t *testing.T) {
	c := &Configuration{ObjectMeta: metav1.ObjectMeta{
		Name:            "hello",
		Annotations:     map[string]string{serving.CreatorAnnotation.String(): "alice", serving.LastModifierAnnotation.String(): "alice"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: SchemeGroupVersion.String(), Kind: "Service", Name: "hello", Controller: ptr.To(true)}},
	}, Spec: service("hello").Spec.ConfigurationSpec}
	c.SetDefaults(asUser(context.Background(), "system:serviceaccount:flywheel-system:controller"))
	if got := c.Annotations[serving.CreatorAnnotation.String()]; got != "alice" {
		t.Errorf("creator = %q, want alice (copied from the Service)", got)
	}
}
