package v1

import (
	"context"
	"slices"
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

func TestSecurePodDefaults(t *testing.T) {
	restricted := func(add ...corev1.Capability) *corev1.SecurityContext {
		return &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: add},
		}
	}
	nonRoot := func(sc *corev1.SecurityContext) *corev1.SecurityContext {
		sc.RunAsNonRoot = ptr.To(true)
		return sc
	}
	tests := []struct {
		name  string
		level config.Flag
		pod   corev1.PodSpec
		// want are the containers' security contexts, init containers'
		// first.
		want []*corev1.SecurityContext
	}{{
		name:  "disabled fills in nothing",
		level: config.Disabled,
		pod:   corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}},
		want:  []*corev1.SecurityContext{nil},
	}, {
		name:  "root-allowed: the restricted profile but runAsNonRoot, init containers too",
		level: config.RootAllowed,
		pod: corev1.PodSpec{
			InitContainers: []corev1.Container{{Image: "i"}},
			Containers:     []corev1.Container{{Image: "a"}},
		},
		want: []*corev1.SecurityContext{restricted(), restricted()},
	}, {
		name:  "enabled adds runAsNonRoot",
		level: config.Enabled,
		pod:   corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}},
		want:  []*corev1.SecurityContext{nonRoot(restricted())},
	}, {
		name:  "a port below 1024 keeps NET_BIND_SERVICE",
		level: config.RootAllowed,
		pod:   corev1.PodSpec{Containers: []corev1.Container{{Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
		want:  []*corev1.SecurityContext{restricted("NET_BIND_SERVICE")},
	}, {
		name:  "what a container sets is kept, even to the less secure value",
		level: config.Enabled,
		pod: corev1.PodSpec{Containers: []corev1.Container{{Image: "a", SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(true),
			RunAsNonRoot:             ptr.To(false),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}},
		}}}},
		want: []*corev1.SecurityContext{{
			AllowPrivilegeEscalation: ptr.To(true),
			RunAsNonRoot:             ptr.To(false),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}},
		}},
	}, {
		name:  "the pod's seccomp profile and runAsNonRoot count as set",
		level: config.Enabled,
		pod: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(false), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			Containers:      []corev1.Container{{Image: "a"}},
		},
		want: []*corev1.SecurityContext{{AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}},
	}, {
		name:  "runAsUser 0 asks for root: no runAsNonRoot",
		level: config.Enabled,
		pod:   corev1.PodSpec{Containers: []corev1.Container{{Image: "a", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}}}},
		want: []*corev1.SecurityContext{func() *corev1.SecurityContext {
			sc := restricted()
			sc.RunAsUser = ptr.To[int64](0)
			return sc
		}()},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := withConfig(context.Background(), func(c *config.Config) {
				c.Features.SecurePodDefaults = tt.level
				// For the row that sets the pod's securityContext.
				c.Features.PodSpecSecurityContext = config.Enabled
			})
			rs := RevisionSpec{PodSpec: tt.pod}
			rs.SetDefaults(ctx)
			var got []*corev1.SecurityContext
			for _, c := range slices.Concat(rs.InitContainers, rs.Containers) {
				got = append(got, c.SecurityContext)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("security contexts (-want, +got):\n%s", diff)
			}
			// What the defaults fill in, the webhook accepts.
			checkErr(t, rs.Validate(ctx), "")
		})
	}
}
