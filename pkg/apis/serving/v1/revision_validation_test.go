package v1

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/config"
)

func TestRevisionSpecValidation(t *testing.T) {
	tests := []struct {
		name   string
		ctx    context.Context
		change func(*RevisionSpec)
		want   string
	}{{
		name:   "valid",
		change: func(*RevisionSpec) {},
	}, {
		name:   "no containers",
		change: func(rs *RevisionSpec) { rs.Containers = nil },
		want:   "missing field(s): containers",
	}, {
		name:   "image required",
		change: func(rs *RevisionSpec) { rs.Containers[0].Image = "" },
		want:   "containers[0].image",
	}, {
		name: "reserved env var",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "K_SERVICE", Value: "x"}}
		},
		want: "containers[0].env[1].name",
	}, {
		name:   "reserved port",
		change: func(rs *RevisionSpec) { rs.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8012}} },
		want:   "containers[0].ports[0].containerPort",
	}, {
		name:   "port out of range",
		change: func(rs *RevisionSpec) { rs.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}} },
		want:   "containers[0].ports[0].containerPort",
	}, {
		name: "two ports on the serving container",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 8081}}
		},
		want: "containers[0].ports",
	}, {
		name: "port named for an unknown protocol",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].Ports = []corev1.ContainerPort{{Name: "grpc", ContainerPort: 8080}}
		},
		want: "containers[0].ports[0].name",
	}, {
		name: "UDP port",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolUDP}}
		},
		want: "containers[0].ports[0].protocol",
	}, {
		name: "hostPort",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 80}}
		},
		want: "containers[0].ports[0].hostPort",
	}, {
		name: "two containers declare ports",
		change: func(rs *RevisionSpec) {
			rs.Containers = []corev1.Container{
				{Name: "a", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "b", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 9000}}},
			}
		},
		want: "containers[1].ports",
	}, {
		name: "several containers and none declares a port",
		change: func(rs *RevisionSpec) {
			rs.Containers = []corev1.Container{{Name: "a", Image: "a"}, {Name: "b", Image: "b"}}
		},
		want: "no container declares a port",
	}, {
		name: "several containers, one serving",
		change: func(rs *RevisionSpec) {
			rs.Containers = []corev1.Container{
				{Name: "a", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "b", Image: "b"},
			}
		},
	}, {
		name: "several containers while multi-container is off",
		ctx:  withConfig(context.Background(), func(c *config.Config) { c.Features.MultiContainer = config.Disabled }),
		change: func(rs *RevisionSpec) {
			rs.Containers = []corev1.Container{
				{Name: "a", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "b", Image: "b"},
			}
		},
		want: `"multi-container": Enabled`,
	}, {
		name: "duplicate container names",
		change: func(rs *RevisionSpec) {
			rs.Containers = []corev1.Container{
				{Name: "a", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
				{Name: "a", Image: "b"},
			}
		},
		want: "containers[1].name",
	}, {
		name:   "container named like the sidecar",
		change: func(rs *RevisionSpec) { rs.Containers[0].Name = "queue-proxy" },
		want:   "containers[0].name",
	}, {
		name:   "lifecycle hooks",
		change: func(rs *RevisionSpec) { rs.Containers[0].Lifecycle = &corev1.Lifecycle{} },
		want:   "containers[0].lifecycle",
	}, {
		name:   "tty",
		change: func(rs *RevisionSpec) { rs.Containers[0].TTY = true },
		want:   "containers[0].tty",
	}, {
		name: "privileged",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		},
		want: "containers[0].securityContext.privileged",
	}, {
		name: "container runAsUser below 0",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](-1)}
		},
		want: "expected 0 <= -1 <= 2147483647: containers[0].securityContext.runAsUser",
	}, {
		name: "container runAsGroup below 0",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsGroup: ptr.To[int64](-1)}
		},
		want: "containers[0].securityContext.runAsGroup",
	}, {
		name: "container runAsUser 0 and above",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](0), RunAsGroup: ptr.To[int64](65532)}
		},
	}, {
		name: "init container runAsUser below 0",
		change: func(rs *RevisionSpec) {
			rs.InitContainers = []corev1.Container{{Name: "init", Image: "i", SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](-5)}}}
		},
		want: "initContainers[0].securityContext.runAsUser",
	}, {
		name: "pod runAsUser below 0",
		ctx:  withConfig(context.Background(), func(c *config.Config) { c.Features.PodSpecSecurityContext = config.Enabled }),
		change: func(rs *RevisionSpec) {
			rs.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](-1)}
		},
		want: "expected 0 <= -1 <= 2147483647: securityContext.runAsUser",
	}, {
		name: "pod runAsGroup and fsGroup below 0",
		ctx:  withConfig(context.Background(), func(c *config.Config) { c.Features.PodSpecSecurityContext = config.Enabled }),
		change: func(rs *RevisionSpec) {
			rs.SecurityContext = &corev1.PodSecurityContext{RunAsGroup: ptr.To[int64](-1), FSGroup: ptr.To[int64](-2)}
		},
		want: "securityContext.fsGroup",
	}, {
		name: "pod runAsUser 0 and above",
		ctx:  withConfig(context.Background(), func(c *config.Config) { c.Features.PodSpecSecurityContext = config.Enabled }),
		change: func(rs *RevisionSpec) {
			rs.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](0)}
		},
	}, {
		name:   "service account name not a DNS-1123 subdomain",
		change: func(rs *RevisionSpec) { rs.ServiceAccountName = "Not_Valid" },
		want: "invalid value: Not_Valid: serviceAccountName\n" +
			"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
	}, {
		name:   "service account name a DNS-1123 subdomain",
		change: func(rs *RevisionSpec) { rs.ServiceAccountName = "builder.bot-1" },
	}, {
		name: "added capabilities while the feature is off",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
		},
		want: "containers[0].securityContext.capabilities.add",
	}, {
		name: "NET_BIND_SERVICE added while the feature is off",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}}}
		},
	}, {
		name: "NET_BIND_SERVICE with another capability while the feature is off",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE", "NET_RAW"}}}
		},
		want: "containers[0].securityContext.capabilities.add",
	}, {
		name: "fieldRef env while the feature is off",
		ctx:  withConfig(context.Background(), func(c *config.Config) { c.Features.PodSpecFieldRef = config.Disabled }),
		change: func(rs *RevisionSpec) {
			rs.Containers[0].Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		},
		want: "containers[0].env[0].valueFrom",
	}, {
		name:   "host network",
		change: func(rs *RevisionSpec) { rs.HostNetwork = true },
		want:   "hostNetwork",
	}, {
		name:   "restart policy other than Always",
		change: func(rs *RevisionSpec) { rs.RestartPolicy = corev1.RestartPolicyNever },
		want:   "restartPolicy",
	}, {
		name:   "node selector while the feature is off",
		change: func(rs *RevisionSpec) { rs.NodeSelector = map[string]string{"disk": "ssd"} },
		want:   `"kubernetes.podspec-nodeselector": Enabled`,
	}, {
		name:   "node selector once the feature is on",
		ctx:    withConfig(context.Background(), func(c *config.Config) { c.Features.PodSpecNodeSelector = config.Enabled }),
		change: func(rs *RevisionSpec) { rs.NodeSelector = map[string]string{"disk": "ssd"} },
	}, {
		name: "host path volume",
		change: func(rs *RevisionSpec) {
			rs.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		},
		want: "volumes[0]",
	}, {
		name: "persistent volume claim while the feature is off",
		change: func(rs *RevisionSpec) {
			rs.Volumes = []corev1.Volume{{Name: "p", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}}}
		},
		want: "volumes[0].persistentVolumeClaim",
	}, {
		name: "mount of an undeclared volume",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/data"}}
		},
		want: "containers[0].volumeMounts[0].name",
	}, {
		name: "relative mount path",
		change: func(rs *RevisionSpec) {
			rs.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			rs.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "data"}}
		},
		want: "containers[0].volumeMounts[0].mountPath",
	}, {
		name: "probe with two handlers",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].ReadinessProbe.HTTPGet = &corev1.HTTPGetAction{Path: "/"}
		},
		want: "containers[0].readinessProbe.httpGet, containers[0].readinessProbe.tcpSocket",
	}, {
		name: "liveness success threshold above 1",
		change: func(rs *RevisionSpec) {
			rs.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 2}
		},
		want: "containers[0].livenessProbe.successThreshold",
	}, {
		name:   "containerConcurrency above the limit",
		change: func(rs *RevisionSpec) { rs.ContainerConcurrency = ptr.To[int64](1001) },
		want:   "containerConcurrency",
	}, {
		name:   "containerConcurrency negative",
		change: func(rs *RevisionSpec) { rs.ContainerConcurrency = ptr.To[int64](-1) },
		want:   "containerConcurrency",
	}, {
		name:   "containerConcurrency 0 while zero is not allowed",
		ctx:    withConfig(context.Background(), func(c *config.Config) { c.Defaults.AllowContainerConcurrencyZero = false }),
		change: func(rs *RevisionSpec) { rs.ContainerConcurrency = ptr.To[int64](0) },
		want:   "allow-container-concurrency-zero",
	}, {
		name:   "timeout above the maximum",
		change: func(rs *RevisionSpec) { rs.TimeoutSeconds = ptr.To[int64](601) },
		want:   "timeoutSeconds",
	}, {
		name:   "timeout within a raised maximum",
		ctx:    withConfig(context.Background(), func(c *config.Config) { c.Defaults.MaxRevisionTimeoutSeconds = 3600 }),
		change: func(rs *RevisionSpec) { rs.TimeoutSeconds = ptr.To[int64](3600) },
	}, {
		name: "response start timeout longer than the request timeout",
		change: func(rs *RevisionSpec) {
			rs.TimeoutSeconds = ptr.To[int64](30)
			rs.ResponseStartTimeoutSeconds = ptr.To[int64](31)
		},
		want: "responseStartTimeoutSeconds",
	}, {
		name:   "idle timeout above the maximum",
		change: func(rs *RevisionSpec) { rs.IdleTimeoutSeconds = ptr.To[int64](601) },
		want:   "idleTimeoutSeconds",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			rs := validSpec()
			tc.change(&rs)
			checkErr(t, rs.Validate(ctx), tc.want)
		})
	}
}

func TestRevisionTemplateValidation(t *testing.T) {
	tests := []struct {
		name     string
		parent   string
		meta     metav1.ObjectMeta
		baseline *Service
		want     string
	}{{
		name:   "generated name",
		parent: "hello",
	}, {
		name:   "own name with the parent's prefix",
		parent: "hello",
		meta:   metav1.ObjectMeta{Name: "hello-v2"},
	}, {
		name:   "own name without the parent's prefix",
		parent: "hello",
		meta:   metav1.ObjectMeta{Name: "world-v2"},
		want:   "metadata.name",
	}, {
		name:   "own name that is only the prefix",
		parent: "hello",
		meta:   metav1.ObjectMeta{Name: "hello-"},
		want:   "metadata.name",
	}, {
		name: "own name under a generated parent name",
		meta: metav1.ObjectMeta{Name: "hello-v2"},
		want: "metadata.name",
	}, {
		name:   "generateName",
		parent: "hello",
		meta:   metav1.ObjectMeta{GenerateName: "hello-"},
		want:   "metadata.generateName",
	}, {
		name:   "namespace",
		parent: "hello",
		meta:   metav1.ObjectMeta{Namespace: "other"},
		want:   "metadata.namespace",
	}, {
		name:   "invalid autoscaling annotation",
		parent: "hello",
		meta:   metav1.ObjectMeta{Annotations: map[string]string{"autoscaling.knative.dev/min-scale": "-1"}},
		want:   "metadata.annotations[autoscaling.knative.dev/min-scale]",
	}, {
		name:     "template changed under the same own name",
		parent:   "hello",
		meta:     metav1.ObjectMeta{Name: "hello-v1"},
		baseline: &Service{Spec: ServiceSpec{ConfigurationSpec: ConfigurationSpec{Template: RevisionTemplateSpec{ObjectMeta: metav1.ObjectMeta{Name: "hello-v1"}}}}},
		want:     `its name "hello-v1" did not`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.baseline != nil {
				ctx = apis.WithinUpdate(ctx, tc.baseline)
			}
			rts := RevisionTemplateSpec{ObjectMeta: tc.meta, Spec: validSpec()}
			checkErr(t, rts.Validate(ctx, tc.parent), tc.want)
		})
	}
}

func TestRevisionValidation(t *testing.T) {
	rev := func(image string) *Revision {
		r := &Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001"}, Spec: validSpec()}
		r.Spec.Containers[0].Image = image
		return r
	}
	tests := []struct {
		name string
		ctx  context.Context
		rev  *Revision
		want string
	}{{
		name: "valid",
		ctx:  context.Background(),
		rev:  rev("a"),
	}, {
		name: "name not a DNS-1035 label",
		ctx:  context.Background(),
		rev:  &Revision{ObjectMeta: metav1.ObjectMeta{Name: "1hello"}, Spec: validSpec()},
		want: "metadata.name",
	}, {
		name: "spec errors are under spec",
		ctx:  context.Background(),
		rev:  rev(""),
		want: "spec.containers[0].image",
	}, {
		name: "spec changed on update",
		ctx:  apis.WithinUpdate(context.Background(), rev("a")),
		rev:  rev("b"),
		want: "spec is immutable",
	}, {
		name: "labels changed on update",
		ctx:  apis.WithinUpdate(context.Background(), rev("a")),
		rev: func() *Revision {
			r := rev("a")
			r.Labels = map[string]string{"x": "y"}
			return r
		}(),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.rev.Validate(tc.ctx), tc.want)
		})
	}
}
