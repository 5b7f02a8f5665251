package sinkbinding

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/apis/duck"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// Reasons Ready gives when the subjects are not bound.
const (
	// ReasonSubjectMissing says the subject named does not exist (yet).
	ReasonSubjectMissing = "SubjectMissing"
	// ReasonSubjectUnavailable says the subject's kind cannot be read.
	ReasonSubjectUnavailable = "SubjectUnavailable"
	// ReasonBindingFailed says a subject could not be patched.
	ReasonBindingFailed = "BindingFailed"
)

// mutation is a SinkBinding's Do or Undo.
type mutation func(context.Context, *duckv1.WithPod)

// binder applies a SinkBinding's Do or Undo to each of its subjects and
// patches those it changes, as knative.dev/pkg's psbinding.BaseReconciler
// does. That one is not used here because linking psbinding into a
// process registers the informers of its admission controller
// (MutatingWebhookConfigurations, and the Secrets of the system
// namespace), which sharedmain then starts in the controller too: the
// controller would need to list and watch every Secret of flywheel-system
// to start at all. Unlike psbinding, it does not label the subject's
// namespace bindings.knative.dev/include: that label serves psbinding's
// inclusion mode, and Flywheel's webhook runs in exclusion mode.
type binder struct {
	// subjects reads and patches subjects; a subjectClient.
	subjects dynamic.Interface
	// informers gives an informer over each kind of subject, started the
	// first time a binding names the kind; each tells tracker of every
	// change.
	informers duck.InformerFactory
	tracker   tracker.Interface
}

// bind applies sb's Do to every subject, as the informers hold them, and
// records on sb whether they are all bound. A subject named that does not
// exist is no error: it is tracked, and its creation brings the binding
// back. The informers may be a moment behind; a subject that changes
// brings the binding back too.
func (b *binder) bind(ctx context.Context, sb *sourcesv1.SinkBinding) error {
	subject := sb.Spec.Subject
	// Track first, so that even a subject not there yet, or of a kind
	// that cannot be read yet, brings the binding back when it changes.
	if err := b.tracker.TrackReference(subject, sb); err != nil {
		return fmt.Errorf("tracking the subject: %w", err)
	}
	gvr, err := resourceOf(sb)
	if err != nil {
		return err
	}
	_, lister, err := b.informers.Get(ctx, gvr)
	if err != nil {
		markSubjectUnavailable(sb, err)
		return err
	}
	referents, err := referentsOf(lister.ByNamespace(subject.Namespace), subject)
	if apierrs.IsNotFound(err) {
		sb.Status.MarkBindingUnavailable(ReasonSubjectMissing,
			"%s %q does not exist in namespace %q yet: it is bound when it is created.", subject.Kind, subject.Name, subject.Namespace)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the subjects: %w", err)
	}
	return b.patchAll(ctx, sb, gvr, referents, sb.Do)
}

// unbind applies sb's Undo to every subject, as the API server holds them
// now: the informers may not have seen the binding's own last patches
// yet, and once the binding is gone nothing would undo what they missed.
func (b *binder) unbind(ctx context.Context, sb *sourcesv1.SinkBinding) error {
	subject := sb.Spec.Subject
	gvr, err := resourceOf(sb)
	if err != nil {
		return err
	}
	objects := b.subjects.Resource(gvr).Namespace(subject.Namespace)
	var found []unstructured.Unstructured
	if subject.Name != "" {
		u, err := objects.Get(ctx, subject.Name, metav1.GetOptions{})
		if apierrs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the subject: %w", err)
		}
		found = append(found, *u)
	} else {
		selector, err := metav1.LabelSelectorAsSelector(subject.Selector)
		if err != nil {
			return err
		}
		l, err := objects.List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
		if err != nil {
			return fmt.Errorf("reading the subjects: %w", err)
		}
		found = l.Items
	}
	referents := make([]*duckv1.WithPod, 0, len(found))
	for i := range found {
		ps := &duckv1.WithPod{}
		if err := duck.FromUnstructured(&found[i], ps); err != nil {
			return fmt.Errorf("reading %s %q: %w", gvr.Resource, found[i].GetName(), err)
		}
		referents = append(referents, ps)
	}
	return b.patchAll(ctx, sb, gvr, referents, sb.Undo)
}

// resourceOf is the resource of sb's subject.
func resourceOf(sb *sourcesv1.SinkBinding) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(sb.Spec.Subject.APIVersion)
	if err != nil {
		// The webhook refuses such a subject.
		sb.Status.MarkBindingUnavailable(ReasonSubjectUnavailable, "spec.subject.apiVersion %q is not group/version: %v", sb.Spec.Subject.APIVersion, err)
		return schema.GroupVersionResource{}, controller.NewPermanentError(err)
	}
	return apis.KindToResource(gv.WithKind(sb.Spec.Subject.Kind)), nil
}

// patchAll applies mutate to each of referents, and records on sb whether
// every one took it.
func (b *binder) patchAll(ctx context.Context, sb *sourcesv1.SinkBinding, gvr schema.GroupVersionResource, referents []*duckv1.WithPod, mutate mutation) error {
	var errs []error
	for _, ps := range referents {
		if err := b.patch(ctx, gvr, ps, mutate); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		sb.Status.MarkBindingUnavailable(ReasonBindingFailed, "%v", err)
		return err
	}
	sb.Status.MarkBindingAvailable()
	return nil
}

// referentsOf are the objects subject names: one by name, or every one
// whose labels match.
func referentsOf(lister cache.GenericNamespaceLister, subject tracker.Reference) ([]*duckv1.WithPod, error) {
	if subject.Name != "" {
		obj, err := lister.Get(subject.Name)
		if err != nil {
			return nil, err
		}
		return []*duckv1.WithPod{obj.(*duckv1.WithPod)}, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(subject.Selector)
	if err != nil {
		return nil, err
	}
	objs, err := lister.List(selector)
	if err != nil {
		return nil, err
	}
	out := make([]*duckv1.WithPod, 0, len(objs))
	for _, obj := range objs {
		out = append(out, obj.(*duckv1.WithPod))
	}
	return out, nil
}

// patch applies mutate to a copy of ps and patches the subject with the
// difference, if any: a patch that changes nothing would still cost a
// write, and a Deployment's template that changes rolls its pods out.
func (b *binder) patch(ctx context.Context, gvr schema.GroupVersionResource, ps *duckv1.WithPod, mutate mutation) error {
	mutated := ps.DeepCopy()
	mutate(ctx, mutated)
	if equality.Semantic.DeepEqual(ps, mutated) {
		return nil
	}
	patch, err := duck.CreateBytePatch(ps, mutated)
	if err != nil {
		return fmt.Errorf("making the patch of %s %q: %w", gvr.Resource, ps.Name, err)
	}
	if _, err := b.subjects.Resource(gvr).Namespace(ps.Namespace).Patch(ctx, ps.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching %s %q: %w", gvr.Resource, ps.Name, err)
	}
	return nil
}

// markSubjectUnavailable says why the subject's kind cannot be read, and
// what to do about it.
func markSubjectUnavailable(sb *sourcesv1.SinkBinding, err error) {
	subject := sb.Spec.Subject
	switch {
	case apierrs.IsForbidden(err):
		sb.Status.MarkBindingUnavailable(ReasonSubjectUnavailable,
			"Flywheel's controller may not read or patch %s (%s): %v. Give the flywheel-controller service account get, list, watch and patch on it with a ClusterRole labelled duck.knative.dev/podspecable: \"true\".",
			subject.Kind, subject.APIVersion, err)
	case apierrs.IsNotFound(err):
		sb.Status.MarkBindingUnavailable(ReasonSubjectUnavailable,
			"The API server serves no kind %s in %s: correct spec.subject.apiVersion and spec.subject.kind.", subject.Kind, subject.APIVersion)
	default:
		sb.Status.MarkBindingUnavailable(ReasonSubjectUnavailable, "Reading the subjects, %s (%s): %v", subject.Kind, subject.APIVersion, err)
	}
}
