package service

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	clientset "flywheel.dev/pkg/client/clientset/versioned"
	servicereconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/service"
	listers "flywheel.dev/pkg/client/listers/serving/v1"
	"flywheel.dev/pkg/reconciler/service/resources"
)

// Reasons of the events the Service reconciler records on a Service.
const (
	// ReasonCreated says the Service's Configuration or Route was created.
	ReasonCreated = "Created"
	// ReasonUpdated says the Service's Configuration or Route was brought
	// back in line with the Service.
	ReasonUpdated = "Updated"
	// ReasonNotOwned says the name of the Service's Configuration or Route
	// is taken by an object the Service does not control.
	ReasonNotOwned = v1.ReasonNotOwned
)

// Reconciler keeps a Service's Configuration and Route equal to what the
// Service asks for and copies their status into the Service's.
type Reconciler struct {
	client              clientset.Interface
	configurationLister listers.ConfigurationLister
	routeLister         listers.RouteLister
}

var _ servicereconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements servicereconciler.Interface. The generated
// reconciler has already applied the current defaults to svc, so a Service
// stored without them (no traffic block, say) reads as the webhook would
// have completed it; it also writes the status and observedGeneration.
func (r *Reconciler) ReconcileKind(ctx context.Context, svc *v1.Service) reconciler.Event {
	cfg, err := r.reconcileConfiguration(ctx, svc)
	if err != nil {
		return err
	}
	// A Configuration that has not observed its latest spec reports on the
	// previous template; copying that would show the old revision's
	// readiness as the new one's.
	if cfg.Generation != cfg.Status.ObservedGeneration {
		svc.Status.MarkConfigurationNotReconciled()
	} else {
		svc.Status.PropagateConfigurationStatus(&cfg.Status)
	}

	route, err := r.reconcileRoute(ctx, svc)
	if err != nil {
		return err
	}
	if route.Generation != route.Status.ObservedGeneration {
		svc.Status.MarkRouteNotReconciled()
		return nil
	}
	svc.Status.PropagateRouteStatus(&route.Status)
	// Only a Ready Route is checked: a Route that is not ready already
	// says why, and that reason is more useful than this one.
	if svc.Status.GetCondition(v1.ServiceConditionRoutesReady).IsTrue() && !servesLatestReady(route, cfg) {
		svc.Status.MarkRouteNotYetReady()
	}
	return nil
}

// servesLatestReady reports whether every target of the Route's status
// that follows the latest revision serves the Configuration's latest ready
// one. A Route is Ready as soon as it serves what it resolved, which can be
// an older revision than the one the Configuration just made ready, or,
// during a gradual rollout, both.
func servesLatestReady(route *v1.Route, cfg *v1.Configuration) bool {
	for _, tt := range route.Status.Traffic {
		if tt.LatestRevision != nil && *tt.LatestRevision && tt.RevisionName != cfg.Status.LatestReadyRevisionName {
			return false
		}
	}
	return true
}

// reconcileConfiguration creates or updates the Service's Configuration
// and returns it as the API has it.
func (r *Reconciler) reconcileConfiguration(ctx context.Context, svc *v1.Service) (*v1.Configuration, error) {
	recorder := controller.GetEventRecorder(ctx)
	desired := resources.MakeConfiguration(svc)
	name := desired.Name
	client := r.client.ServingV1().Configurations(svc.Namespace)

	cfg, err := r.configurationLister.Configurations(svc.Namespace).Get(name)
	if apierrs.IsNotFound(err) {
		cfg, err = client.Create(ctx, desired, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("creating Configuration %s: %w", name, err)
		}
		recorder.Eventf(svc, corev1.EventTypeNormal, ReasonCreated, "Created Configuration %q", name)
		return cfg, nil
	} else if err != nil {
		return nil, fmt.Errorf("getting Configuration %s: %w", name, err)
	}

	if !metav1.IsControlledBy(cfg, svc) {
		svc.Status.MarkConfigurationNotOwned(name)
		return nil, notOwned("Configuration", name)
	}

	// The Route reconciler records on a Configuration which Routes send it
	// traffic; the Service does not know that and must not erase it.
	if routes, ok := serving.RoutesAnnotation.Get(cfg.Annotations); ok {
		desired.Annotations[serving.RoutesAnnotation.String()] = routes
	}
	// The stored Configuration was defaulted when it was written. Defaulting
	// it again with today's configuration makes it comparable with desired,
	// whose template was defaulted the same way, so a default added since
	// (an upgrade, a changed config-defaults) causes no update and no new
	// Revision.
	have := cfg.DeepCopy()
	have.SetDefaults(ctx)
	if sameMeta(&desired.ObjectMeta, &have.ObjectMeta) && equality.Semantic.DeepEqual(desired.Spec, have.Spec) {
		return cfg, nil
	}

	want := cfg.DeepCopy()
	want.Spec = desired.Spec
	want.Labels = desired.Labels
	want.Annotations = desired.Annotations
	cfg, err = client.Update(ctx, want, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating Configuration %s: %w", name, err)
	}
	recorder.Eventf(svc, corev1.EventTypeNormal, ReasonUpdated, "Updated Configuration %q", name)
	return cfg, nil
}

// reconcileRoute creates or updates the Service's Route and returns it as
// the API has it.
func (r *Reconciler) reconcileRoute(ctx context.Context, svc *v1.Service) (*v1.Route, error) {
	recorder := controller.GetEventRecorder(ctx)
	desired := resources.MakeRoute(svc)
	name := desired.Name
	client := r.client.ServingV1().Routes(svc.Namespace)

	route, err := r.routeLister.Routes(svc.Namespace).Get(name)
	if apierrs.IsNotFound(err) {
		route, err = client.Create(ctx, desired, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("creating Route %s: %w", name, err)
		}
		recorder.Eventf(svc, corev1.EventTypeNormal, ReasonCreated, "Created Route %q", name)
		return route, nil
	} else if err != nil {
		return nil, fmt.Errorf("getting Route %s: %w", name, err)
	}

	if !metav1.IsControlledBy(route, svc) {
		svc.Status.MarkRouteNotOwned(name)
		return nil, notOwned("Route", name)
	}

	have := route.DeepCopy()
	have.SetDefaults(ctx)
	if sameMeta(&desired.ObjectMeta, &have.ObjectMeta) && equality.Semantic.DeepEqual(desired.Spec, have.Spec) {
		return route, nil
	}

	want := route.DeepCopy()
	want.Spec = desired.Spec
	want.Labels = desired.Labels
	want.Annotations = desired.Annotations
	route, err = client.Update(ctx, want, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating Route %s: %w", name, err)
	}
	recorder.Eventf(svc, corev1.EventTypeNormal, ReasonUpdated, "Updated Route %q", name)
	return route, nil
}

// sameMeta reports whether two objects carry the same labels and
// annotations. Knative's contract is that a Service's children carry
// exactly the Service's metadata, so a label added by hand is removed.
func sameMeta(desired, have *metav1.ObjectMeta) bool {
	return equality.Semantic.DeepEqual(desired.Labels, have.Labels) &&
		equality.Semantic.DeepEqual(desired.Annotations, have.Annotations)
}

// notOwned is the error for a child whose name is taken: it is permanent,
// since retrying cannot help until a person deletes or renames something,
// and it carries an event that says so on the Service.
func notOwned(kind, name string) error {
	return controller.NewPermanentError(reconciler.NewEvent(corev1.EventTypeWarning, ReasonNotOwned,
		"%s %q exists and is controlled by another object; delete it or give the Service another name", kind, name))
}
