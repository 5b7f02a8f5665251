package route

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/tracker"

	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// reconcileService creates or updates the Route's core Service, which
// makes its cluster-local host a name the cluster's DNS answers.
func (r *Reconciler) reconcileService(ctx context.Context, route *v1.Route, desired *corev1.Service) error {
	recorder := controller.GetEventRecorder(ctx)
	client := r.kubeClient.CoreV1().Services(route.Namespace)
	name := desired.Name

	// Tracked by name, so that the Route also hears of a Service it does
	// not own going away.
	if err := r.tracker.TrackReference(tracker.Reference{
		APIVersion: "v1", Kind: "Service", Namespace: route.Namespace, Name: name,
	}, route); err != nil {
		return fmt.Errorf("tracking Service %s: %w", name, err)
	}

	svc, err := r.serviceLister.Services(route.Namespace).Get(name)
	if apierrs.IsNotFound(err) {
		if _, err := client.Create(ctx, desired, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Service %s: %w", name, err)
		}
		recorder.Eventf(route, corev1.EventTypeNormal, ReasonCreated, "Created Service %q", name)
		return nil
	} else if err != nil {
		return fmt.Errorf("getting Service %s: %w", name, err)
	}

	if !metav1.IsControlledBy(svc, route) {
		msg := fmt.Sprintf("Service %q exists and is controlled by another object; the Route needs a Service of its name "+
			"for its cluster-local host: delete it, or rename the Route", name)
		route.Status.MarkIngressFailed(ReasonNotOwned, msg)
		return controller.NewPermanentError(reconciler.NewEvent(corev1.EventTypeWarning, ReasonNotOwned, "%s", msg))
	}
	if serviceInLine(desired, svc) {
		return nil
	}

	want := svc.DeepCopy()
	want.Labels = desired.Labels
	want.Annotations = desired.Annotations
	// The whole spec, so that a Service someone made a ClusterIP one
	// loses its selector and cluster IP too: the API server allows
	// clearing them as the type becomes ExternalName.
	want.Spec = desired.Spec
	if _, err := client.Update(ctx, want, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating Service %s: %w", name, err)
	}
	recorder.Eventf(route, corev1.EventTypeNormal, ReasonUpdated, "Updated Service %q", name)
	return nil
}

// serviceInLine reports whether have already says what want does: the
// metadata the Route propagates and the fields of the spec it sets. Fields
// it leaves to the API server are not compared.
func serviceInLine(want, have *corev1.Service) bool {
	return equality.Semantic.DeepEqual(want.Labels, have.Labels) &&
		equality.Semantic.DeepEqual(want.Annotations, have.Annotations) &&
		want.Spec.Type == have.Spec.Type &&
		want.Spec.ExternalName == have.Spec.ExternalName &&
		equality.Semantic.DeepEqual(want.Spec.Selector, have.Spec.Selector) &&
		equality.Semantic.DeepEqual(want.Spec.Ports, have.Spec.Ports)
}
