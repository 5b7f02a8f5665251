package gc

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	clientset "flywheel.dev/pkg/client/clientset/versioned"
	configurationreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/configuration"
	listers "flywheel.dev/pkg/client/listers/serving/v1"
	"flywheel.dev/pkg/reconciler/gc/config"
)

// ReasonCollected is the reason of the event recorded on a Configuration
// for each Revision deleted.
const ReasonCollected = "Collected"

// Reconciler deletes the Revisions of a Configuration that config-gc no
// longer keeps. It only reads the Configuration; the Configuration
// reconciler owns its status.
type Reconciler struct {
	client         clientset.Interface
	revisionLister listers.RevisionLister
	clock          clock.PassiveClock
	// enqueueAfter brings the Configuration back when a Revision it keeps
	// becomes old enough to delete.
	enqueueAfter func(cfg *v1.Configuration, after time.Duration)
}

var _ configurationreconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements configurationreconciler.Interface.
func (r *Reconciler) ReconcileKind(ctx context.Context, cfg *v1.Configuration) reconciler.Event {
	selected, err := r.revisionLister.Revisions(cfg.Namespace).List(labels.SelectorFromSet(labels.Set{
		serving.ConfigurationLabel.String(): cfg.Name,
	}))
	if err != nil {
		return fmt.Errorf("listing Revisions: %w", err)
	}
	// The label can be copied; only what the Configuration controls is
	// its to lose.
	var revs []*v1.Revision
	for _, rev := range selected {
		if metav1.IsControlledBy(rev, cfg) {
			revs = append(revs, rev)
		}
	}

	doomed, recheck := Collect(cfg, revs, config.FromContext(ctx).GC, r.clock.Now())
	for _, rev := range doomed {
		err := r.client.ServingV1().Revisions(rev.Namespace).Delete(ctx, rev.Name, metav1.DeleteOptions{
			// The Revision seen is the one judged: a Route that picked it
			// up meanwhile changed it, and the delete fails.
			Preconditions: &metav1.Preconditions{UID: &rev.UID, ResourceVersion: &rev.ResourceVersion},
		})
		if err != nil && !apierrs.IsNotFound(err) {
			return fmt.Errorf("deleting Revision %s: %w", rev.Name, err)
		}
		controller.GetEventRecorder(ctx).Eventf(cfg, corev1.EventTypeNormal, ReasonCollected,
			"Deleted Revision %q: no Route serves it and config-gc keeps it no longer", rev.Name)
	}
	if recheck > 0 {
		r.enqueueAfter(cfg, recheck)
	}
	return nil
}
