package resources

import (
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// MakePodSpec returns the pod of the Revision: its containers with the
// runtime contract's environment, then the queue-proxy sidecar (and, in
// transparent mode, the init container that redirects the app's port to
// it).
func MakePodSpec(rev *v1.Revision, cfg *config.Deployment, obs queue.Observability) (*corev1.PodSpec, error) {
	qc, err := QueueConfig(rev, cfg)
	if err != nil {
		return nil, err
	}
	sidecar, err := MakeQueueContainer(rev, cfg, obs)
	if err != nil {
		return nil, err
	}
	ps := rev.Spec.PodSpec.DeepCopy()
	pinImages(ps, rev.Status.ContainerStatuses, cfg)
	serving := rev.Spec.ServingContainer()
	for i := range ps.Containers {
		c := &ps.Containers[i]
		c.Env = append(runtimeEnv(rev, i == servingIndex(rev, serving)), c.Env...)
		if serving != nil && c.Name == serving.Name {
			// The sidecar runs HTTP and TCP readiness probes, fast at
			// start; the kubelet keeps exec and gRPC ones.
			if handsProbeToSidecar(c) {
				c.ReadinessProbe = nil
			}
			// A port given by name only (admission fills in the number,
			// but a Revision stored before that did not) is the default
			// port: a Deployment refuses a container port without one.
			if len(c.Ports) > 0 && c.Ports[0].ContainerPort == 0 {
				c.Ports[0].ContainerPort = UserPort(rev)
			}
			defaultProbePort(c.LivenessProbe, UserPort(rev))
			defaultProbePort(c.StartupProbe, UserPort(rev))
		}
		// Stopped only once the sidecar has drained: the kubelet sends
		// SIGTERM to a container after its preStop hook returns, and the
		// sidecar forwards requests until its drain ends. Validation
		// refuses lifecycle hooks of the user's own.
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
			Path:   queue.DrainPath,
			Port:   intstr.FromInt32(queue.AdminPort),
			Scheme: corev1.URISchemeHTTP,
		}}}
		if c.TerminationMessagePolicy == "" {
			// The reason a crashed container gives becomes the Revision's
			// message: its log's last lines are the best there is.
			c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		}
	}
	ps.Containers = append(ps.Containers, sidecar)
	if qc.Mode == queue.ModeTransparent {
		ps.InitContainers = append(ps.InitContainers, MakeInitContainer(rev, cfg))
	}
	ps.TerminationGracePeriodSeconds = ptr.To(terminationGrace(qc))
	return ps, nil
}

func servingIndex(rev *v1.Revision, serving *corev1.Container) int {
	if serving == nil {
		return -1
	}
	return slices.IndexFunc(rev.Spec.Containers, func(c corev1.Container) bool { return c.Name == serving.Name })
}

// runtimeEnv is Knative's runtime contract: PORT for the container that
// serves, and the K_ names for every container.
func runtimeEnv(rev *v1.Revision, serves bool) []corev1.EnvVar {
	var env []corev1.EnvVar
	if serves {
		env = append(env, corev1.EnvVar{Name: serving.EnvPort, Value: strconv.Itoa(int(UserPort(rev)))})
	}
	return append(env,
		corev1.EnvVar{Name: serving.EnvService, Value: rev.Labels[serving.ServiceLabel.String()]},
		corev1.EnvVar{Name: serving.EnvConfiguration, Value: rev.Labels[serving.ConfigurationLabel.String()]},
		corev1.EnvVar{Name: serving.EnvRevision, Value: rev.Name},
	)
}

// defaultProbePort points a probe that names no port at the app's port,
// as a template's probes may leave it out.
func defaultProbePort(p *corev1.Probe, port int32) {
	if p == nil {
		return
	}
	if p.HTTPGet != nil && p.HTTPGet.Port.IntValue() == 0 && p.HTTPGet.Port.Type == intstr.Int {
		p.HTTPGet.Port = intstr.FromInt32(port)
	}
	if p.TCPSocket != nil && p.TCPSocket.Port.IntValue() == 0 && p.TCPSocket.Port.Type == intstr.Int {
		p.TCPSocket.Port = intstr.FromInt32(port)
	}
}

// MakeDeployment returns the Revision's Deployment. Its replicas start at
// the initial scale; from then on the autoscaler owns them.
func MakeDeployment(rev *v1.Revision, cfg *config.Deployment, as *config.Autoscaler, obs queue.Observability) (*appsv1.Deployment, error) {
	ps, err := MakePodSpec(rev, cfg, obs)
	if err != nil {
		return nil, err
	}
	parsed, _ := autoscaling.ParseAnnotations(rev.Annotations) // validated on admission
	replicas := parsed.InitialScaleOr(as)
	if minScale, _ := parsed.ScaleBoundsOr(as); replicas < minScale {
		replicas = minScale
	}
	labels := Labels(rev)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Deployment(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          labels,
			Annotations:     annotations(rev),
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(rev)},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To(replicas),
			Selector:                &metav1.LabelSelector{MatchLabels: Selector(rev)},
			ProgressDeadlineSeconds: ptr.To(int32(cfg.ProgressDeadline.Seconds())),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					// A Revision's pods never change; a rollout only
					// happens when the platform's own sidecar does, and
					// then no pod may go before its replacement is ready.
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromString("25%")),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations(rev)},
				Spec:       *ps,
			},
		},
	}, nil
}
