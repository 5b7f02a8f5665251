package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// ServicePortHTTP carries requests for the app, as a Knative revision's
// Services' port does (named names.ServicePortNameHTTP or
// names.ServicePortNameH2C); the other ports are for the platform.
const ServicePortHTTP = 80

// requestTargetPort is where a Service sends requests: the sidecar's
// serving port, or, in transparent mode, the app's own port, which
// iptables hands to the sidecar.
func requestTargetPort(rev *v1.Revision) int32 {
	if Mode(rev) == queue.ModeTransparent {
		return UserPort(rev)
	}
	return queue.ServingPort
}

func servicePorts(rev *v1.Revision) []corev1.ServicePort {
	http := corev1.ServicePort{
		Name:       names.ServicePortNameHTTP,
		Protocol:   corev1.ProtocolTCP,
		Port:       ServicePortHTTP,
		TargetPort: intstr.FromInt32(requestTargetPort(rev)),
	}
	if rev.Spec.AppProtocol() == queue.AppProtocolH2C {
		http.Name = names.ServicePortNameH2C
		http.AppProtocol = ptr.To("kubernetes.io/h2c")
	}
	return []corev1.ServicePort{http, {
		Name:       QueueMetricsPortName,
		Protocol:   corev1.ProtocolTCP,
		Port:       queue.MetricsPort,
		TargetPort: intstr.FromInt32(queue.MetricsPort),
	}, {
		Name:       QueueAdminPortName,
		Protocol:   corev1.ProtocolTCP,
		Port:       queue.AdminPort,
		TargetPort: intstr.FromInt32(queue.AdminPort),
	}}
}

// MakePrivateService returns the Service that selects the Revision's pods
// directly: the autoscaler scrapes through it and the serverless logic
// reads its endpoints.
func MakePrivateService(rev *v1.Revision) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.PrivateService(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          Labels(rev),
			Annotations:     annotations(rev),
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(rev)},
		},
		Spec: corev1.ServiceSpec{
			Selector: Selector(rev),
			Ports:    servicePorts(rev),
		},
	}
}

// MakePublicService returns the Service that routes send the Revision's
// traffic to. It has no selector: the serverless logic writes its
// EndpointSlice with either the activator's addresses (while the Revision
// is cold or short of capacity) or its pods'.
func MakePublicService(rev *v1.Revision) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.PublicService(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          Labels(rev),
			Annotations:     annotations(rev),
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(rev)},
		},
		Spec: corev1.ServiceSpec{Ports: servicePorts(rev)},
	}
}
