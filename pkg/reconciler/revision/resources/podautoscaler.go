package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// MakePodAutoscaler returns the PodAutoscaler that scales the Revision's
// Deployment. It carries the Revision's annotations, where the
// autoscaling.knative.dev settings are; whether routes reach the Revision
// decides whether it may scale to zero and stay there.
func MakePodAutoscaler(rev *v1.Revision) *autoscalingv1alpha1.PodAutoscaler {
	protocol := autoscalingv1alpha1.ProtocolHTTP1
	if rev.Spec.AppProtocol() == queue.AppProtocolH2C {
		protocol = autoscalingv1alpha1.ProtocolH2C
	}
	return &autoscalingv1alpha1.PodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.PodAutoscaler(rev.Name),
			Namespace:       rev.Namespace,
			Labels:          Labels(rev),
			Annotations:     annotations(rev),
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(rev)},
		},
		Spec: autoscalingv1alpha1.PodAutoscalerSpec{
			ScaleTargetRef: corev1.ObjectReference{
				APIVersion: "apps/v1",
				Kind:       "Deployment",
				Name:       names.Deployment(rev.Name),
			},
			ContainerConcurrency: rev.Spec.GetContainerConcurrency(),
			ProtocolType:         protocol,
			Reachability:         reachability(rev),
		},
	}
}

// reachability reads the routing state the Route reconciler labels the
// Revision with.
func reachability(rev *v1.Revision) autoscalingv1alpha1.ReachabilityType {
	switch serving.RoutingState(rev.Labels[serving.RoutingStateLabel.String()]) {
	case serving.RoutingStateActive:
		return autoscalingv1alpha1.ReachabilityReachable
	case serving.RoutingStateReserve:
		return autoscalingv1alpha1.ReachabilityUnreachable
	}
	return autoscalingv1alpha1.ReachabilityUnknown
}
