package v1

import (
	"context"
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
// the serving container's port number and readiness probe and the
// resources of config-defaults.
func (rs *RevisionSpec) SetDefaults(ctx context.Context) {
	d := config.FromContextOrDefaults(ctx).Defaults

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
