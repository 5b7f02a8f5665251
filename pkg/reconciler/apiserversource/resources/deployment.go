package resources

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/reconciler/apiserversource/resources/names"
	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/sources/apiserver"
)

// Labels of an adapter Deployment and its pods.
const (
	// SourceUIDLabel holds the UID of the source the adapter serves, and
	// selects the adapter's pods: a source's name may be longer than a
	// label value can be, its UID never is, and it never changes, as a
	// Deployment's selector must not.
	SourceUIDLabel = "sources.flywheel.dev/apiserversource-uid"
	// AdapterName is the app.kubernetes.io/name of every adapter.
	AdapterName = "apiserversource-adapter"
)

// ContainerName is the adapter's container.
const ContainerName = "adapter"

// DeploymentArgs are what the reconciler resolved for src's adapter.
type DeploymentArgs struct {
	// Image runs the adapter (cmd/apiserversource-adapter).
	Image string
	// Sink is the resolved sink, the adapter's K_SINK.
	Sink string
	// Config is what it watches and how it reports.
	Config apiserver.Config
}

// Labels are the labels of src's adapter Deployment and pods.
func Labels(src *sourcesv1.ApiServerSource) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      AdapterName,
		"app.kubernetes.io/part-of":   "flywheel",
		"app.kubernetes.io/component": "sources",
		SourceUIDLabel:                string(src.UID),
	}
}

// MakeDeployment returns the Deployment that runs src's adapter: one
// replica in src's namespace, controlled by src, running as src's service
// account, so that it sees exactly what that account may get, list and
// watch.
//
// Its rollout is the default rolling update: on a change (a new sink,
// another kind to watch) the new pod becomes ready, having listed what it
// watches, before the old one stops, so the two overlap rather than leave
// a gap, and a change made meanwhile may be sent by both.
func MakeDeployment(src *sourcesv1.ApiServerSource, args DeploymentArgs) (*appsv1.Deployment, error) {
	cfg, err := args.Config.Encode()
	if err != nil {
		return nil, err
	}
	overrides, err := sources.EncodeOverrides(src.Spec.CloudEventOverrides)
	if err != nil {
		return nil, fmt.Errorf("encoding spec.ceOverrides: %w", err)
	}
	env := []corev1.EnvVar{
		// One processor: the adapter waits on the API server and the sink,
		// and more threads would only wake each other.
		{Name: "GOMAXPROCS", Value: "1"},
		{Name: sources.SinkEnv, Value: args.Sink},
	}
	if overrides != "" {
		env = append(env, corev1.EnvVar{Name: sources.CEOverridesEnv, Value: overrides})
	}
	env = append(env, corev1.EnvVar{Name: apiserver.ConfigEnv, Value: cfg})

	labels := Labels(src)
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString("probes"), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds:    period,
			FailureThreshold: failures,
		}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.Deployment(src.Name),
			Namespace:       src.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(src)},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{SourceUIDLabel: string(src.UID)}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: ServiceAccount(src),
					Containers: []corev1.Container{{
						Name:  ContainerName,
						Image: args.Image,
						Env:   env,
						Ports: []corev1.ContainerPort{{Name: "probes", ContainerPort: apiserver.ProbePort}},
						// Ready once every watch has listed: from then on
						// every change is sent.
						ReadinessProbe: probe(apiserver.ReadyPath, 2, 3),
						LivenessProbe:  probe(apiserver.HealthPath, 10, 6),
						// The watch caches grow with the objects watched;
						// no memory limit guesses how many that is.
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("30Mi"),
						}},
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             ptr.To(true),
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
					}},
				},
			},
		},
	}, nil
}

// ServiceAccount is the account src's adapter runs as, and whose
// permissions the reconciler checks: spec's, or the default the webhook
// would have set.
func ServiceAccount(src *sourcesv1.ApiServerSource) string {
	if src.Spec.ServiceAccountName == "" {
		return sourcesv1.DefaultServiceAccountName
	}
	return src.Spec.ServiceAccountName
}
