package v1

import (
	"context"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
)

// SetDefaults implements apis.Defaultable.
func (r *Revision) SetDefaults(ctx context.Context) {
	r.Spec.SetDefaults(ctx)
}

// SetDefaults fills what a template leaves out with the values of
// config-defaults, so that every Revision the platform runs is complete.
func (rts *RevisionTemplateSpec) SetDefaults(ctx context.Context) {
	rts.Spec.SetDefaults(ctx)
}

// SetDefaults fills in the request limits and timeouts, container names,
// the serving container's port number and readiness probe, the resources
// of config-defaults and, as config-features' secure-pod-defaults says,
// the containers' security contexts.
func (rs *RevisionSpec) SetDefaults(ctx context.Context) {
	cfg := config.FromContextOrDefaults(ctx)
	d := cfg.Defaults

	if rs.ContainerConcurrency == nil {
		rs.ContainerConcurrency = ptr.To(d.ContainerConcurrency)
	}
	if rs.TimeoutSeconds == nil {
		rs.TimeoutSeconds = ptr.To(d.RevisionTimeoutSeconds)
	}
	if rs.ResponseStartTimeoutSeconds == nil && d.RevisionResponseStartTimeoutSeconds > 0 {
		rs.ResponseStartTimeoutSeconds = ptr.To(d.RevisionResponseStartTimeoutSeconds)
	}
	if rs.IdleTimeoutSeconds == nil && d.RevisionIdleTimeoutSeconds > 0 {
		rs.IdleTimeoutSeconds = ptr.To(d.RevisionIdleTimeoutSeconds)
	}
	if rs.EnableServiceLinks == nil {
		rs.EnableServiceLinks = ptr.To(d.EnableServiceLinks)
	}

	nameContainers(rs.Containers, d.UserContainerName)
	nameContainers(rs.InitContainers, d.InitContainerName)

	serving := rs.ServingContainer()
	for i := range rs.Containers {
		c := &rs.Containers[i]
		defaultResources(c, d)
		if c == serving {
			defaultPort(c)
			defaultReadinessProbe(c)
		}
	}
	if level := cfg.Features.SecurePodDefaults; level == config.RootAllowed || level == config.Enabled {
		for i := range rs.InitContainers {
			defaultSecurityContext(&rs.InitContainers[i], rs.SecurityContext, level)
		}
		for i := range rs.Containers {
			defaultSecurityContext(&rs.Containers[i], rs.SecurityContext, level)
		}
	}
}

// netBindService is the capability to listen on a port below 1024, the
// one a container may add without kubernetes.containerspec-addcapabilities.
const netBindService corev1.Capability = "NET_BIND_SERVICE"

// privilegedPortEnd is the first port a process without
// CAP_NET_BIND_SERVICE may listen on.
const privilegedPortEnd = 1024

// defaultSecurityContext fills in what c leaves unset of Kubernetes'
// restricted Pod Security Standard, as Knative's secure-pod-defaults
// does: no privilege escalation, the runtime's default seccomp profile,
// every capability dropped (but NET_BIND_SERVICE for a container that
// declares a port below 1024) and, at Enabled, runAsNonRoot. What the
// container or the pod (pod) sets is left as it is: it was meant.
func defaultSecurityContext(c *corev1.Container, pod *corev1.PodSecurityContext, level config.Flag) {
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil {
		sc.AllowPrivilegeEscalation = ptr.To(false)
	}
	if sc.SeccompProfile == nil && (pod == nil || pod.SeccompProfile == nil) {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		if slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort > 0 && p.ContainerPort < privilegedPortEnd }) {
			sc.Capabilities.Add = []corev1.Capability{netBindService}
		}
	}
	// A runAsUser of 0 asks for root in so many words: runAsNonRoot
	// would only stop the pod.
	runAsUser := sc.RunAsUser
	if runAsUser == nil && pod != nil {
		runAsUser = pod.RunAsUser
	}
	if level == config.Enabled && sc.RunAsNonRoot == nil && (pod == nil || pod.RunAsNonRoot == nil) && (runAsUser == nil || *runAsUser != 0) {
		sc.RunAsNonRoot = ptr.To(true)
	}
}

// nameContainers names the unnamed containers: a lone container gets the
// base name, several get it with their index, skipping names in use so
// that defaulting never makes two containers clash.
func nameContainers(containers []corev1.Container, base string) {
	taken := make(map[string]bool, len(containers))
	for _, c := range containers {
		taken[c.Name] = true
	}
	for i := range containers {
		if containers[i].Name != "" {
			continue
		}
		name := base
		if len(containers) > 1 {
			name = base + "-" + strconv.Itoa(i)
		}
		for n := 1; taken[name]; n++ {
			name = base + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(n)
		}
		containers[i].Name = name
		taken[name] = true
	}
}

func defaultResources(c *corev1.Container, d *config.Defaults) {
	set := func(list *corev1.ResourceList, name corev1.ResourceName, q *resource.Quantity) {
		if q == nil {
			return
		}
		if _, ok := (*list)[name]; ok {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q.DeepCopy()
	}
	set(&c.Resources.Requests, corev1.ResourceCPU, d.RevisionCPURequest)
	set(&c.Resources.Requests, corev1.ResourceMemory, d.RevisionMemoryRequest)
	set(&c.Resources.Limits, corev1.ResourceCPU, d.RevisionCPULimit)
	set(&c.Resources.Limits, corev1.ResourceMemory, d.RevisionMemoryLimit)
}

// defaultPort gives a port declared by name only (ports: [{name: h2c}])
// the runtime contract's default number: the name chooses the protocol,
// not the port, and a Deployment refuses a port without a number.
func defaultPort(c *corev1.Container) {
	if len(c.Ports) > 0 && c.Ports[0].ContainerPort == 0 {
		c.Ports[0].ContainerPort = serving.DefaultUserPort
	}
}

// defaultReadinessProbe gives the serving container a TCP readiness probe
// when it has none, and completes a partial one. The queue-proxy runs the
// probe against the container's port, so the port is left for it to fill
// in; a success threshold of 1 lets a cold pod take traffic at its first
// successful probe.
func defaultReadinessProbe(c *corev1.Container) {
	if c.ReadinessProbe == nil {
		c.ReadinessProbe = &corev1.Probe{}
	}
	p := c.ReadinessProbe
	if p.TCPSocket == nil && p.HTTPGet == nil && p.Exec == nil && p.GRPC == nil {
		p.TCPSocket = &corev1.TCPSocketAction{}
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.HTTPGet != nil && p.HTTPGet.Scheme == "" {
		p.HTTPGet.Scheme = corev1.URISchemeHTTP
	}
}
