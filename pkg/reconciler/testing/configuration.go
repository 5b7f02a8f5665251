package testing

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/kmeta"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// ConfigurationOption changes a Configuration a row is built from.
type ConfigurationOption func(*v1.Configuration)

// Configuration returns a Configuration named name in namespace ns at
// generation 1 whose template runs one container of image DefaultImage,
// with opts applied in order. Its UID is derived from its name.
func Configuration(name, ns string, opts ...ConfigurationOption) *v1.Configuration {
	cfg := &v1.Configuration{
		ObjectMeta: metav1.ObjectMeta{
			Name:       name,
			Namespace:  ns,
			UID:        types.UID(name + "-configuration-uid"),
			Generation: 1,
		},
		Spec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
			Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{
				Containers: []corev1.Container{{Image: DefaultImage}},
			}},
		}},
	}
	for _, opt := range opts {
		opt(cfg)
	}
	return cfg
}

// WithConfigGeneration sets metadata.generation.
func WithConfigGeneration(generation int64) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Generation = generation }
}

// WithConfigObservedGeneration records that the status reflects the
// current generation.
func WithConfigObservedGeneration(cfg *v1.Configuration) {
	cfg.Status.ObservedGeneration = cfg.Generation
}

// WithConfigLabels sets the Configuration's labels.
func WithConfigLabels(labels map[string]string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Labels = labels }
}

// WithConfigAnnotations sets the Configuration's annotations.
func WithConfigAnnotations(annotations map[string]string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Annotations = annotations }
}

// WithConfigOwner makes owner the Configuration's controller.
func WithConfigOwner(owner kmeta.OwnerRefable) ConfigurationOption {
	return func(cfg *v1.Configuration) {
		cfg.OwnerReferences = []metav1.OwnerReference{*kmeta.NewControllerRef(owner)}
	}
}

// WithConfigImage changes the image of the template's first container.
func WithConfigImage(image string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Spec.Template.Spec.Containers[0].Image = image }
}

// WithConfigTemplateName chooses the name of the next Revision.
func WithConfigTemplateName(name string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Spec.Template.Name = name }
}

// WithConfigDefaults applies the webhook's defaults with the built-in
// configuration, as a Configuration stored through the API has them.
func WithConfigDefaults(cfg *v1.Configuration) {
	cfg.SetDefaults(context.Background())
}

// WithConfigInitConditions sets every condition to Unknown.
func WithConfigInitConditions(cfg *v1.Configuration) {
	cfg.Status.InitializeConditions()
}

// WithLatestCreated records name as the latest created Revision.
func WithLatestCreated(name string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Status.SetLatestCreatedRevisionName(name) }
}

// WithLatestReady records name as the latest ready Revision.
func WithLatestReady(name string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Status.SetLatestReadyRevisionName(name) }
}

// WithConfigReady makes name both the latest created and the latest ready
// Revision, which makes the Configuration Ready.
func WithConfigReady(name string) ConfigurationOption {
	return func(cfg *v1.Configuration) {
		cfg.Status.InitializeConditions()
		cfg.Status.SetLatestCreatedRevisionName(name)
		cfg.Status.SetLatestReadyRevisionName(name)
	}
}

// WithLatestCreatedFailed says the latest created Revision name failed.
func WithLatestCreatedFailed(name, message string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Status.MarkLatestCreatedFailed(name, message) }
}

// WithRevisionCreationFailed says the next Revision could not be created.
func WithRevisionCreationFailed(message string) ConfigurationOption {
	return func(cfg *v1.Configuration) { cfg.Status.MarkRevisionCreationFailed(message) }
}

// WithLatestReadyDeleted says the latest ready Revision was deleted.
func WithLatestReadyDeleted(cfg *v1.Configuration) {
	cfg.Status.MarkLatestReadyDeleted()
}

// WithConfigDeletionTimestamp marks the Configuration as being deleted.
func WithConfigDeletionTimestamp(cfg *v1.Configuration) {
	now := metav1.Now()
	cfg.DeletionTimestamp = &now
}
