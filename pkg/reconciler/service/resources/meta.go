package resources

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// childMeta returns the metadata every object a Service owns carries: the
// Service's labels and annotations (Knative's contract: a change to the
// Service's metadata reaches its Configuration and Route), the labels that
// lead back to the Service, and a controller reference so that the garbage
// collector deletes the child with the Service.
func childMeta(svc *v1.Service, name string) metav1.ObjectMeta {
	labels := make(map[string]string, len(svc.Labels)+2)
	maps.Copy(labels, svc.Labels)
	labels[serving.ServiceLabel.String()] = svc.Name
	labels[serving.ServiceUIDLabel.String()] = string(svc.UID)

	// The creator and lastModifier annotations go along on purpose: the
	// webhook keeps them on an object a Service controls, so the child
	// names the person who changed the Service rather than the
	// controller's service account. kubectl's last-applied configuration
	// describes the Service as the user applied it; on the child it would
	// mislead `kubectl apply` and only add bulk.
	annotations := make(map[string]string, len(svc.Annotations))
	maps.Copy(annotations, svc.Annotations)
	delete(annotations, corev1.LastAppliedConfigAnnotation)

	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       svc.Namespace,
		Labels:          labels,
		Annotations:     annotations,
		OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(svc)},
	}
}
