package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/config"
)

func TestRevisionSpecDefaults(t *testing.T) {
	tcpProbe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 1}
	tests := []struct {
		name string
		ctx  context.Context
		in   RevisionSpec
		want RevisionSpec
	}{{
		name: "empty template gets timeouts, concurrency and service links off",
		in:   RevisionSpec{},
		want: RevisionSpec{
			PodSpec:              corev1.PodSpec{EnableServiceLinks: ptr.To(false)},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "a lone container is named user-container and gets a TCP readiness probe",
		in:   RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				Containers:         []corev1.Container{{Name: "user-container", Image: "a", ReadinessProbe: tcpProbe}},
			},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "several containers are numbered, skipping names in use; only the serving one gets a probe",
		in: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{
			{Image: "a"},
			{Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
			{Name: "user-container-0", Image: "c"},
		}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				Containers: []corev1.Container{
					{Name: "user-container-0-1", Image: "a"},
					{Name: "user-container-1", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}, ReadinessProbe: tcpProbe},
					{Name: "user-container-0", Image: "c"},
				},
			},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "a port given by name only is the default port with that protocol",
		in: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "a", Ports: []corev1.ContainerPort{{Name: "h2c"}},
		}}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				Containers: []corev1.Container{{
					Name: "app", Image: "a", ReadinessProbe: tcpProbe,
					Ports: []corev1.ContainerPort{{Name: "h2c", ContainerPort: 8080}},
				}},
			},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "a port number given is kept",
		in: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "a", Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 9000}},
		}}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				Containers: []corev1.Container{{
					Name: "app", Image: "a", ReadinessProbe: tcpProbe,
					Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 9000}},
				}},
			},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "init containers get their own base name",
		in:   RevisionSpec{PodSpec: corev1.PodSpec{InitContainers: []corev1.Container{{Image: "i"}}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				InitContainers:     []corev1.Container{{Name: "init-container", Image: "i"}},
			},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "a partial HTTP probe is completed, not replaced",
		in: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "a",
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}, PeriodSeconds: 2},
		}}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				Containers: []corev1.Container{{Name: "app", Image: "a", ReadinessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Scheme: corev1.URISchemeHTTP}},
					PeriodSeconds:    2,
					SuccessThreshold: 1,
				}}},
			},
			ContainerConcurrency: ptr.To[int64](0),
			TimeoutSeconds:       ptr.To[int64](300),
		},
	}, {
		name: "values the user set are kept",
		in: RevisionSpec{
			PodSpec:              corev1.PodSpec{EnableServiceLinks: ptr.To(true)},
			ContainerConcurrency: ptr.To[int64](7),
			TimeoutSeconds:       ptr.To[int64](42),
		},
		want: RevisionSpec{
			PodSpec:              corev1.PodSpec{EnableServiceLinks: ptr.To(true)},
			ContainerConcurrency: ptr.To[int64](7),
			TimeoutSeconds:       ptr.To[int64](42),
		},
	}, {
		name: "config-defaults supplies concurrency, timeouts and resources",
		ctx: withConfig(context.Background(), func(c *config.Config) {
			c.Defaults.ContainerConcurrency = 10
			c.Defaults.RevisionTimeoutSeconds = 60
			c.Defaults.RevisionResponseStartTimeoutSeconds = 5
			c.Defaults.RevisionIdleTimeoutSeconds = 30
			c.Defaults.RevisionCPURequest = ptr.To(resource.MustParse("100m"))
			c.Defaults.RevisionMemoryLimit = ptr.To(resource.MustParse("256Mi"))
		}),
		in: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "a",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		}}}},
		want: RevisionSpec{
			PodSpec: corev1.PodSpec{
				EnableServiceLinks: ptr.To(false),
				Containers: []corev1.Container{{
					Name: "app", Image: "a", ReadinessProbe: tcpProbe,
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
					},
				}},
			},
			ContainerConcurrency:        ptr.To[int64](10),
			TimeoutSeconds:              ptr.To[int64](60),
			ResponseStartTimeoutSeconds: ptr.To[int64](5),
			IdleTimeoutSeconds:          ptr.To[int64](30),
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			got := tc.in.DeepCopy()
			got.SetDefaults(ctx)
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("defaults (-want, +got):\n%s", diff)
			}
			again := got.DeepCopy()
			again.SetDefaults(ctx)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("defaulting twice changed the spec (-once, +twice):\n%s", diff)
			}
		})
	}
}
