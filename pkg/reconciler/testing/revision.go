package testing

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// RevisionOption changes a Revision a row is built from.
type RevisionOption func(*v1.Revision)

// Revision returns a Revision named name in namespace ns that runs one
// container of image DefaultImage, with opts applied in order.
func Revision(name, ns string, opts ...RevisionOption) *v1.Revision {
	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
			UID:       types.UID(name + "-revision-uid"),
		},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{
			Containers: []corev1.Container{{Image: DefaultImage}},
		}},
	}
	for _, opt := range opts {
		opt(rev)
	}
	return rev
}

// WithRevisionOwner makes owner the Revision's controller.
func WithRevisionOwner(owner kmeta.OwnerRefable) RevisionOption {
	return func(rev *v1.Revision) {
		rev.OwnerReferences = []metav1.OwnerReference{*kmeta.NewControllerRef(owner)}
	}
}

// WithRevisionLabels sets the Revision's labels.
func WithRevisionLabels(labels map[string]string) RevisionOption {
	return func(rev *v1.Revision) { rev.Labels = labels }
}

// WithRevisionImage changes the image of the first container.
func WithRevisionImage(image string) RevisionOption {
	return func(rev *v1.Revision) { rev.Spec.Containers[0].Image = image }
}

// WithRevisionPending says the Revision is still coming up.
func WithRevisionPending(rev *v1.Revision) {
	rev.Status.InitializeConditions()
	rev.Status.ObservedGeneration = rev.Generation
}

// WithRevisionReady says the Revision's resources and containers are up,
// which makes it Ready.
func WithRevisionReady(rev *v1.Revision) {
	WithRevisionPending(rev)
	rev.Status.MarkResourcesAvailableTrue()
	rev.Status.MarkContainerHealthyTrue()
}

// WithRevisionFailed says a container of the Revision failed, with reason
// and message, which makes it fail.
func WithRevisionFailed(reason, message string) RevisionOption {
	return func(rev *v1.Revision) {
		WithRevisionPending(rev)
		rev.Status.MarkContainerHealthyFalse(reason, message)
	}
}
