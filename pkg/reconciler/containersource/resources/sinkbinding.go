package resources

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/reconciler/containersource/resources/names"
)

// MakeSinkBinding returns the SinkBinding that gives the pods of the
// source's Deployment its sink and CloudEvents overrides.
func MakeSinkBinding(source *sourcesv1.ContainerSource) *sourcesv1.SinkBinding {
	return &sourcesv1.SinkBinding{
		ObjectMeta: metav1.ObjectMeta{
			Name:            names.SinkBinding(source),
			Namespace:       source.Namespace,
			Labels:          Labels(source),
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(source)},
		},
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec: *source.Spec.SourceSpec.DeepCopy(),
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
				APIVersion: "apps/v1",
				Kind:       "Deployment",
				Namespace:  source.Namespace,
				Name:       names.Deployment(source),
			}},
		},
	}
}
