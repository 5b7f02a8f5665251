package serverlessservice

import (
	"context"
	"fmt"
	"maps"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	discoveryv1listers "k8s.io/client-go/listers/discovery/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/system"

	"flywheel.dev/pkg/activator"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	revisionreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/revision"
	palisters "flywheel.dev/pkg/client/listers/autoscaling/v1alpha1"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// Reconciler keeps the EndpointSlices of each Revision's public Service
// in line with the Revision's mode and its source's endpoints. It never
// changes the Revision; the Revision reconciler owns its status.
type Reconciler struct {
	kube        kubernetes.Interface
	sliceLister discoveryv1listers.EndpointSliceLister
	paLister    palisters.PodAutoscalerLister
}

var _ revisionreconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements revisionreconciler.Interface.
func (r *Reconciler) ReconcileKind(ctx context.Context, rev *v1.Revision) reconciler.Event {
	private, err := r.slicesOf(rev.Namespace, names.PrivateService(rev.Name))
	if err != nil {
		return err
	}
	activatorSlices, err := r.slicesOf(system.Namespace(), activator.ServiceName)
	if err != nil {
		return err
	}
	pa, err := r.paLister.PodAutoscalers(rev.Namespace).Get(names.PodAutoscaler(rev.Name))
	switch {
	case apierrs.IsNotFound(err):
		pa = nil // the Revision reconciler makes it; its informer brings us back
	case err != nil:
		return fmt.Errorf("getting PodAutoscaler %s: %w", names.PodAutoscaler(rev.Name), err)
	}
	mode := endpointsMode(pa, private, activatorSlices)
	want := desiredSlices(rev, mode, private, activatorSlices)

	public, err := r.slicesOf(rev.Namespace, names.PublicService(rev.Name))
	if err != nil {
		return err
	}
	stale := make(map[string]*discoveryv1.EndpointSlice, len(public))
	for _, s := range public {
		if ownedBy(s, rev) {
			stale[s.Name] = s
		}
	}
	// New endpoints go in before old ones go out, so that a Service never
	// passes through having none on the way from one set to the next.
	for _, slice := range want {
		delete(stale, slice.Name)
		if err := r.reconcileSlice(ctx, rev, slice); err != nil {
			return err
		}
	}
	for _, s := range stale {
		err := r.kube.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &s.UID},
		})
		if err != nil && !apierrs.IsNotFound(err) {
			return fmt.Errorf("deleting EndpointSlice %s: %w", s.Name, err)
		}
	}
	return nil
}

// slicesOf lists the EndpointSlices of a Service, whoever wrote them.
func (r *Reconciler) slicesOf(ns, service string) ([]*discoveryv1.EndpointSlice, error) {
	selector := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service})
	out, err := r.sliceLister.EndpointSlices(ns).List(selector)
	if err != nil {
		return nil, fmt.Errorf("listing the EndpointSlices of Service %s: %w", service, err)
	}
	return out, nil
}

// reconcileSlice creates want, or updates the slice of its name when it
// differs, provided that slice is ours.
func (r *Reconciler) reconcileSlice(ctx context.Context, rev *v1.Revision, want *discoveryv1.EndpointSlice) error {
	have, err := r.sliceLister.EndpointSlices(want.Namespace).Get(want.Name)
	switch {
	case apierrs.IsNotFound(err):
		return r.createSlice(ctx, rev, want)
	case err != nil:
		return fmt.Errorf("getting EndpointSlice %s: %w", want.Name, err)
	case !ownedBy(have, rev):
		return notOwned(rev, want.Name)
	case have.AddressType != want.AddressType:
		// The address type is immutable: replace the slice.
		err := r.kube.DiscoveryV1().EndpointSlices(have.Namespace).Delete(ctx, have.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &have.UID},
		})
		if err != nil && !apierrs.IsNotFound(err) {
			return fmt.Errorf("deleting EndpointSlice %s to change its address type: %w", have.Name, err)
		}
		return r.createSlice(ctx, rev, want)
	case sameSlice(want, have):
		return nil
	}
	update := have.DeepCopy()
	update.Labels = make(map[string]string, len(have.Labels)+len(want.Labels))
	maps.Copy(update.Labels, have.Labels)
	maps.Copy(update.Labels, want.Labels)
	update.Endpoints, update.Ports = want.Endpoints, want.Ports
	if _, err := r.kube.DiscoveryV1().EndpointSlices(update.Namespace).Update(ctx, update, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating EndpointSlice %s: %w", want.Name, err)
	}
	return nil
}

func (r *Reconciler) createSlice(ctx context.Context, rev *v1.Revision, want *discoveryv1.EndpointSlice) error {
	client := r.kube.DiscoveryV1().EndpointSlices(want.Namespace)
	_, err := client.Create(ctx, want, metav1.CreateOptions{})
	if apierrs.IsAlreadyExists(err) {
		// The informer has not caught up with a slice written moments
		// ago, as happens when source slices change in quick succession.
		// If the slice is ours, its own event brings the Revision back
		// once the cache has it.
		have, err := client.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting EndpointSlice %s: %w", want.Name, err)
		}
		if !ownedBy(have, rev) {
			return notOwned(rev, want.Name)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating EndpointSlice %s: %w", want.Name, err)
	}
	return nil
}

// notOwned is the error of a slice name taken by someone else. It becomes
// a warning event on the Revision; retrying does not help until the slice
// is removed.
func notOwned(rev *v1.Revision, name string) error {
	return controller.NewPermanentError(fmt.Errorf("revision %s: there is an existing EndpointSlice %q that we do not own", rev.Name, name))
}

// ownedBy reports whether slice is one this reconciler wrote for rev.
// Both marks count: managed-by keeps us from another manager's slices,
// the controller reference from an earlier Revision's of the same name.
func ownedBy(slice *discoveryv1.EndpointSlice, rev *v1.Revision) bool {
	return slice.Labels[discoveryv1.LabelManagedBy] == ManagedBy && metav1.IsControlledBy(slice, rev)
}

// sameSlice reports whether have already says what want says; labels
// others added do not count.
func sameSlice(want, have *discoveryv1.EndpointSlice) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	return equality.Semantic.DeepEqual(want.Endpoints, have.Endpoints) &&
		equality.Semantic.DeepEqual(want.Ports, have.Ports)
}
