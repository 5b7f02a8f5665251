package resources

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
)

// Port names on the queue-proxy container, used by the Services.
const (
	QueueHTTPPortName    = "http-queue"
	QueueH2CPortName     = "h2c-queue"
	QueueAdminPortName   = "queue-admin"
	QueueMetricsPortName = "http-usermetric"
	// InitContainerName is the transparent mode's init container.
	InitContainerName = "queue-iptables"
)

// UserPort returns the port the serving container listens on: the one it
// declares, or the runtime contract's default.
func UserPort(rev *v1.Revision) int32 {
	if c := rev.Spec.ServingContainer(); c != nil && len(c.Ports) > 0 && c.Ports[0].ContainerPort != 0 {
		return c.Ports[0].ContainerPort
	}
	return serving.DefaultUserPort
}

// Mode returns how requests reach the Revision's sidecar, from its
// annotation.
func Mode(rev *v1.Revision) queue.Mode {
	if m := rev.Annotations[queue.ModeAnnotation.String()]; m == string(queue.ModeTransparent) {
		return queue.ModeTransparent
	}
	return queue.ModePort
}

// QueueConfig returns the sidecar's configuration for the Revision. The
// same type is what the sidecar reads back from its environment.
func QueueConfig(rev *v1.Revision, cfg *config.Deployment) (queue.Config, error) {
	qc := queue.DefaultConfig(int(UserPort(rev)))
	qc.Mode = Mode(rev)
	qc.AppProtocol = rev.Spec.AppProtocol()
	qc.ContainerConcurrency = int(rev.Spec.GetContainerConcurrency())
	qc.QueueDepth = queue.QueueDepthPerSlot * qc.ContainerConcurrency
	if t := rev.Spec.Timeout(); t > 0 {
		qc.RevisionTimeout = t
	}
	qc.ResponseStartTimeout = rev.Spec.ResponseStartTimeout()
	qc.IdleTimeout = rev.Spec.IdleTimeout()
	qc.DrainWindow = cfg.QueueSidecarDrainWindow
	qc.ReadinessProbe = sidecarProbe(rev.Spec.ServingContainer())
	qc.Namespace = rev.Namespace
	qc.Service = rev.Labels[serving.ServiceLabel.String()]
	qc.Configuration = rev.Labels[serving.ConfigurationLabel.String()]
	qc.Revision = rev.Name
	if err := qc.Validate(); err != nil {
		return queue.Config{}, fmt.Errorf("the queue-proxy configuration of revision %s is invalid: %w", rev.Name, err)
	}
	return qc, nil
}

// sidecarProbe converts the serving container's readiness probe into the
// sidecar's. The sidecar runs HTTP and TCP probes itself, fast at start;
// an exec or gRPC probe stays with the kubelet on the app container (see
// userReadinessProbe) and the sidecar checks that the port accepts
// connections.
func sidecarProbe(c *corev1.Container) queue.ProbeSpec {
	if c == nil || c.ReadinessProbe == nil {
		return queue.DefaultProbe()
	}
	p := c.ReadinessProbe
	spec := queue.ProbeSpec{
		PeriodSeconds:    p.PeriodSeconds,
		TimeoutSeconds:   p.TimeoutSeconds,
		FailureThreshold: p.FailureThreshold,
		SuccessThreshold: p.SuccessThreshold,
	}
	switch {
	case p.HTTPGet != nil:
		h := &queue.HTTPGetProbe{Path: p.HTTPGet.Path, Port: int32(p.HTTPGet.Port.IntValue()), Scheme: string(p.HTTPGet.Scheme)}
		for _, hdr := range p.HTTPGet.HTTPHeaders {
			h.HTTPHeaders = append(h.HTTPHeaders, queue.HTTPHeader{Name: hdr.Name, Value: hdr.Value})
		}
		spec.HTTPGet = h
	case p.TCPSocket != nil:
		spec.TCPSocket = &queue.TCPSocketProbe{Port: int32(p.TCPSocket.Port.IntValue())}
	default:
		return queue.DefaultProbe()
	}
	return spec
}

// handsProbeToSidecar reports whether the sidecar runs the container's
// readiness probe, so that the kubelet need not.
func handsProbeToSidecar(c *corev1.Container) bool {
	return c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet != nil || c.ReadinessProbe.TCPSocket != nil
}

// MakeQueueContainer returns the queue-proxy container of the Revision's
// pods, which sends its metrics and traces where obs says.
func MakeQueueContainer(rev *v1.Revision, cfg *config.Deployment, obs queue.Observability) (corev1.Container, error) {
	qc, err := QueueConfig(rev, cfg)
	if err != nil {
		return corev1.Container{}, err
	}
	qc.Observability = obs
	env := make([]corev1.EnvVar, 0, len(qc.Env())+1)
	for _, e := range qc.Env() {
		env = append(env, corev1.EnvVar{Name: e.Name.String(), Value: e.Value})
	}
	// Only the kubelet knows a pod's name.
	env = append(env, corev1.EnvVar{Name: queue.EnvPod.String(), ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
	}})

	servingPortName := QueueHTTPPortName
	if qc.AppProtocol == queue.AppProtocolH2C {
		servingPortName = QueueH2CPortName
	}
	c := corev1.Container{
		Name:  queue.ContainerName,
		Image: cfg.QueueSidecarImage,
		Ports: []corev1.ContainerPort{
			{Name: servingPortName, ContainerPort: int32(qc.ServingPort), Protocol: corev1.ProtocolTCP},
			{Name: QueueAdminPortName, ContainerPort: int32(qc.AdminPort), Protocol: corev1.ProtocolTCP},
			{Name: QueueMetricsPortName, ContainerPort: int32(qc.MetricsPort), Protocol: corev1.ProtocolTCP},
		},
		Env:       env,
		Resources: queueResources(cfg),
		// The sidecar holds an early probe until the app passes (up to
		// 900 ms), so a one-second period costs little and lets a pod
		// become ready within a second of its app.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: queue.ReadyPath,
				Port: intstr.FromInt32(int32(qc.AdminPort)),
			}},
			PeriodSeconds:    1,
			TimeoutSeconds:   1,
			SuccessThreshold: 1,
			FailureThreshold: 1,
		},
		// Knative's queue-proxy's: restricted, whatever the user's
		// containers ask for.
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if qc.Mode == queue.ModeTransparent {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: "intercept", ContainerPort: int32(qc.InterceptPort), Protocol: corev1.ProtocolTCP})
		// The iptables rules exempt this uid, so the sidecar's own
		// connections to the app are not redirected back to it.
		c.SecurityContext.RunAsUser = ptr.To[int64](queue.SidecarUID)
	}
	return c, nil
}

// MakeInitContainer returns the transparent mode's init container, which
// installs the redirect rules in the pod's network namespace and exits.
func MakeInitContainer(rev *v1.Revision, cfg *config.Deployment) corev1.Container {
	return corev1.Container{
		Name:  InitContainerName,
		Image: cfg.QueueSidecarImage,
		Args: []string{
			queue.IPTablesCommand,
			"--" + queue.IPTablesFlagAppPort, strconv.Itoa(int(UserPort(rev))),
			"--" + queue.IPTablesFlagInterceptPort, strconv.Itoa(queue.InterceptPort),
			"--" + queue.IPTablesFlagExcludeUID, strconv.Itoa(queue.SidecarUID),
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptr.To[int64](0),
			RunAsNonRoot:             ptr.To(false),
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{
				Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"},
				Drop: []corev1.Capability{"ALL"},
			},
		},
	}
}

func queueResources(cfg *config.Deployment) corev1.ResourceRequirements {
	var r corev1.ResourceRequirements
	add := func(list *corev1.ResourceList, name corev1.ResourceName, qty *resource.Quantity) {
		if qty == nil {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = qty.DeepCopy()
	}
	add(&r.Requests, corev1.ResourceCPU, cfg.QueueSidecarCPURequest)
	add(&r.Requests, corev1.ResourceMemory, cfg.QueueSidecarMemoryRequest)
	add(&r.Limits, corev1.ResourceCPU, cfg.QueueSidecarCPULimit)
	add(&r.Limits, corev1.ResourceMemory, cfg.QueueSidecarMemoryLimit)
	return r
}

// terminationGrace covers the drain window and then the longest request.
func terminationGrace(qc queue.Config) int64 {
	return int64((qc.DrainWindow + qc.RevisionTimeout + time.Second - 1) / time.Second)
}
