package testing

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// ServiceOption changes a Service a row is built from.
type ServiceOption func(*v1.Service)

// Service returns a Service named name in namespace ns whose template runs
// one container of image DefaultImage, with opts applied in order. Its UID
// is derived from its name so that owner references are predictable.
func Service(name, ns string, opts ...ServiceOption) *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
			UID:       types.UID(name + "-service-uid"),
		},
		Spec: v1.ServiceSpec{
			ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
				Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{
					Containers: []corev1.Container{{Image: DefaultImage}},
				}},
			}},
		},
	}
	for _, opt := range opts {
		opt(svc)
	}
	return svc
}

// DefaultImage is the image the builders' templates run.
const DefaultImage = "registry.example/hello:v1"

// WithServiceGeneration sets metadata.generation, which the API server
// bumps on every spec change.
func WithServiceGeneration(generation int64) ServiceOption {
	return func(svc *v1.Service) { svc.Generation = generation }
}

// WithServiceObservedGeneration records that the status reflects the
// current generation, as the generated reconciler does after each pass.
func WithServiceObservedGeneration(svc *v1.Service) {
	svc.Status.ObservedGeneration = svc.Generation
}

// WithServiceLabels sets the Service's labels.
func WithServiceLabels(labels map[string]string) ServiceOption {
	return func(svc *v1.Service) { svc.Labels = labels }
}

// WithServiceAnnotations sets the Service's annotations.
func WithServiceAnnotations(annotations map[string]string) ServiceOption {
	return func(svc *v1.Service) { svc.Annotations = annotations }
}

// WithServiceImage changes the image of the template's first container.
func WithServiceImage(image string) ServiceOption {
	return func(svc *v1.Service) { svc.Spec.Template.Spec.Containers[0].Image = image }
}

// WithServiceTemplateName chooses the name of the next Revision.
func WithServiceTemplateName(name string) ServiceOption {
	return func(svc *v1.Service) { svc.Spec.Template.Name = name }
}

// WithServiceTraffic sets the Service's traffic block.
func WithServiceTraffic(traffic ...v1.TrafficTarget) ServiceOption {
	return func(svc *v1.Service) { svc.Spec.Traffic = traffic }
}

// WithServiceDefaults applies the webhook's defaults with the built-in
// configuration, as a Service stored through the API has them.
func WithServiceDefaults(svc *v1.Service) {
	svc.SetDefaults(context.Background())
}

// WithServiceDeletionTimestamp marks the Service as being deleted.
func WithServiceDeletionTimestamp(svc *v1.Service) {
	now := metav1.Now()
	svc.DeletionTimestamp = &now
}

// WithServiceInitConditions sets every condition to Unknown, as the
// generated reconciler does before the first pass.
func WithServiceInitConditions(svc *v1.Service) {
	svc.Status.InitializeConditions()
}

// WithServiceConfigurationStatus propagates cfg's status into the Service.
func WithServiceConfigurationStatus(cfg *v1.Configuration) ServiceOption {
	return func(svc *v1.Service) { svc.Status.PropagateConfigurationStatus(&cfg.Status) }
}

// WithServiceRouteStatus propagates route's status into the Service.
func WithServiceRouteStatus(route *v1.Route) ServiceOption {
	return func(svc *v1.Service) { svc.Status.PropagateRouteStatus(&route.Status) }
}

// WithServiceConfigurationNotReconciled says the Configuration has not
// caught up with the Service's template.
func WithServiceConfigurationNotReconciled(svc *v1.Service) {
	svc.Status.MarkConfigurationNotReconciled()
}

// WithServiceRouteNotReconciled says the Route has not caught up with the
// Service's traffic.
func WithServiceRouteNotReconciled(svc *v1.Service) {
	svc.Status.MarkRouteNotReconciled()
}

// WithServiceConfigurationNotOwned says a Configuration of the Service's
// name belongs to something else.
func WithServiceConfigurationNotOwned(svc *v1.Service) {
	svc.Status.MarkConfigurationNotOwned(svc.Name)
}

// WithServiceRouteNotOwned says a Route of the Service's name belongs to
// something else.
func WithServiceRouteNotOwned(svc *v1.Service) {
	svc.Status.MarkRouteNotOwned(svc.Name)
}

// WithServiceRouteNotYetReady says the Route still sends traffic to an
// older revision than the latest ready one.
func WithServiceRouteNotYetReady(svc *v1.Service) {
	svc.Status.MarkRouteNotYetReady()
}
