package configuration

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
	"flywheel.dev/pkg/reconciler/configuration/resources"
	"flywheel.dev/pkg/reconciler/configuration/resources/names"
)

// Reasons of the events the Configuration reconciler records on a
// Configuration.
const (
	// ReasonCreated says a Revision was made from the template.
	ReasonCreated = "Created"
	// ReasonNotOwned says the name chosen for the next Revision is taken
	// by a Revision of another owner.
	ReasonNotOwned = "NotOwned"
	// ReasonNameTaken says the name chosen for the next Revision is taken
	// by one of this Configuration's Revisions with another template.
	ReasonNameTaken = "RevisionNameTaken"
	// ReasonLatestReadyUpdate says a newer Revision became ready and now
	// takes the traffic that follows the Configuration.
	ReasonLatestReadyUpdate = "LatestReadyUpdate"
	// ReasonLatestCreatedFailed says the newest Revision failed.
	ReasonLatestCreatedFailed = v1.ReasonLatestCreatedFailed
	// ReasonLatestReadyDeleted says the latest ready Revision was deleted.
	ReasonLatestReadyDeleted = v1.ReasonLatestReadyDeleted
)

// Reconciler makes a Configuration's Revisions and reports on them.
type Reconciler struct {
	client         clientset.Interface
	revisionLister listers.RevisionLister
	// clock stamps the routing state of new Revisions.
	clock clock.PassiveClock
}

var _ configurationreconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements configurationreconciler.Interface. The
// generated reconciler has already applied the current defaults to cfg and
// writes the status and observedGeneration afterwards.
func (r *Reconciler) ReconcileKind(ctx context.Context, cfg *v1.Configuration) reconciler.Event {
	// Whether this Revision's failure was already reported, read before
	// the status changes, so that its event is sent once.
	reported := failureReported(cfg)

	rev, err := r.latestCreatedRevision(ctx, cfg)
	if err != nil {
		return err
	}
	cfg.Status.SetLatestCreatedRevisionName(rev.Name)

	if rev.IsReady() {
		setLatestReady(ctx, cfg, rev.Name)
		return nil
	}
	if err := r.findLatestReady(ctx, cfg); err != nil {
		return err
	}
	if rev.IsFailed() {
		cfg.Status.MarkLatestCreatedFailed(rev.Name, rev.Status.GetCondition(v1.RevisionConditionReady).Message)
		if reported != rev.Name {
			controller.GetEventRecorder(ctx).Eventf(cfg, corev1.EventTypeWarning, ReasonLatestCreatedFailed,
				"Latest created revision %q has failed", rev.Name)
		}
	}
	return nil
}

// failureReported returns the Revision whose failure cfg's status already
// reports, if any.
func failureReported(cfg *v1.Configuration) string {
	cond := cfg.Status.GetCondition(v1.ConfigurationConditionReady)
	if cond.IsFalse() && cond.Reason == v1.ReasonLatestCreatedFailed {
		return cfg.Status.LatestCreatedRevisionName
	}
	return ""
}

// latestCreatedRevision returns the Revision of cfg's current generation,
// making it when there is none.
func (r *Reconciler) latestCreatedRevision(ctx context.Context, cfg *v1.Configuration) (*v1.Revision, error) {
	lister := r.revisionLister.Revisions(cfg.Namespace)

	// The labels, not the name, say which generation a Revision was made
	// for: a name chosen in the template may have been used before.
	revs, err := lister.List(labels.SelectorFromSet(labels.Set{
		serving.ConfigurationLabel.String():           cfg.Name,
		serving.ConfigurationGenerationLabel.String(): strconv.FormatInt(cfg.Generation, 10),
	}))
	if err != nil {
		return nil, fmt.Errorf("listing Revisions of generation %d: %w", cfg.Generation, err)
	}
	for _, rev := range revs {
		if metav1.IsControlledBy(rev, cfg) {
			return rev, nil
		}
	}

	name := names.Revision(cfg)
	rev, err := lister.Get(name)
	switch {
	case apierrs.IsNotFound(err):
		return r.createRevision(ctx, cfg)
	case err != nil:
		return nil, fmt.Errorf("getting Revision %s: %w", name, err)
	case !metav1.IsControlledBy(rev, cfg):
		return nil, r.nameUnusable(cfg, ReasonNotOwned, fmt.Sprintf(
			"Revision %q already exists and belongs to another object; choose another name in spec.template.metadata.name", name))
	case !sameSpec(ctx, rev, cfg):
		return nil, r.nameUnusable(cfg, ReasonNameTaken, fmt.Sprintf(
			"Revision %q was made from a different template and Revisions are immutable; choose a new name in spec.template.metadata.name with each change", name))
	}
	// The template names a Revision this Configuration made earlier from
	// the same spec, as when going back to a named revision: it serves as
	// it is, a second copy would only differ in name.
	return rev, nil
}

// nameUnusable reports that the next Revision cannot be made under the
// name the template chose. Retrying cannot help until the user changes the
// template, so the error is permanent.
func (r *Reconciler) nameUnusable(cfg *v1.Configuration, reason, message string) error {
	cfg.Status.MarkRevisionCreationFailed(message)
	return controller.NewPermanentError(reconciler.NewEvent(corev1.EventTypeWarning, reason, "%s", message))
}

// createRevision makes the Revision of cfg's current template.
func (r *Reconciler) createRevision(ctx context.Context, cfg *v1.Configuration) (*v1.Revision, error) {
	desired := resources.MakeRevision(cfg, r.clock.Now())
	rev, err := r.client.ServingV1().Revisions(cfg.Namespace).Create(ctx, desired, metav1.CreateOptions{})
	if err != nil {
		// AlreadyExists means the lister has not seen a Revision made by
		// an earlier pass yet; the retry will find it. Any other failure,
		// such as the webhook refusing the Revision, is the user's to see.
		if !apierrs.IsAlreadyExists(err) {
			cfg.Status.MarkRevisionCreationFailed(err.Error())
		}
		return nil, fmt.Errorf("creating Revision %s: %w", desired.Name, err)
	}
	controller.GetEventRecorder(ctx).Eventf(cfg, corev1.EventTypeNormal, ReasonCreated, "Created Revision %q", rev.Name)
	return rev, nil
}

// sameSpec reports whether rev was made from cfg's current template. Both
// are defaulted with the current configuration first, so a default added
// since rev was made is no difference.
func sameSpec(ctx context.Context, rev *v1.Revision, cfg *v1.Configuration) bool {
	have := rev.Spec.DeepCopy()
	have.SetDefaults(ctx)
	want := cfg.Spec.Template.Spec.DeepCopy()
	want.SetDefaults(ctx)
	return equality.Semantic.DeepEqual(have, want)
}

// findLatestReady keeps latestReadyRevisionName right while the newest
// Revision is not ready: it moves it forward to the newest ready Revision
// of a later generation than the one it names, and clears it when that
// Revision was deleted, falling back to the newest ready one left.
func (r *Reconciler) findLatestReady(ctx context.Context, cfg *v1.Configuration) error {
	lister := r.revisionLister.Revisions(cfg.Namespace)

	var since int64
	if name := cfg.Status.LatestReadyRevisionName; name != "" {
		rev, err := lister.Get(name)
		switch {
		case apierrs.IsNotFound(err):
			cfg.Status.MarkLatestReadyDeleted()
			controller.GetEventRecorder(ctx).Eventf(cfg, corev1.EventTypeWarning, ReasonLatestReadyDeleted,
				"Latest ready revision %q was deleted", name)
		case err != nil:
			return fmt.Errorf("getting Revision %s: %w", name, err)
		default:
			since = rev.ConfigurationGeneration()
		}
	}

	revs, err := lister.List(labels.SelectorFromSet(labels.Set{serving.ConfigurationLabel.String(): cfg.Name}))
	if err != nil {
		return fmt.Errorf("listing Revisions: %w", err)
	}
	var newest *v1.Revision
	for _, rev := range revs {
		if gen := rev.ConfigurationGeneration(); gen > since && metav1.IsControlledBy(rev, cfg) && rev.IsReady() {
			newest, since = rev, gen
		}
	}
	if newest != nil {
		setLatestReady(ctx, cfg, newest.Name)
	}
	return nil
}

// setLatestReady records name as the latest ready Revision, with an event
// when that changes where the Configuration's traffic goes.
func setLatestReady(ctx context.Context, cfg *v1.Configuration, name string) {
	if cfg.Status.LatestReadyRevisionName != name {
		controller.GetEventRecorder(ctx).Eventf(cfg, corev1.EventTypeNormal, ReasonLatestReadyUpdate,
			"LatestReadyRevisionName updated to %q", name)
	}
	cfg.Status.SetLatestReadyRevisionName(name)
}
