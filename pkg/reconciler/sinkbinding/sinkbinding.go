package sinkbinding

import (
	"context"
	"errors"
	"fmt"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sinkbindingreconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/sinkbinding"
)

// ReasonSinkNotFound says the sink does not resolve to a URL.
const ReasonSinkNotFound = "NotFound"

// Reconciler resolves a SinkBinding's sink and binds its subjects to it.
type Reconciler struct {
	resolver *resolver.URIResolver
	binder   *binder
}

var (
	_ sinkbindingreconciler.Interface = (*Reconciler)(nil)
	_ sinkbindingreconciler.Finalizer = (*Reconciler)(nil)
)

// ReconcileKind implements sinkbindingreconciler.Interface. It records
// the sink first and the binding last (see MarkBindingAvailable).
func (r *Reconciler) ReconcileKind(ctx context.Context, sb *sourcesv1.SinkBinding) reconciler.Event {
	sb.Status.InitializeConditions()
	// The resolver tracks what the sink refers to: when its address
	// changes, the binding is reconciled again and its subjects follow.
	uri, err := r.resolver.URIFromDestinationV1(ctx, sb.Spec.Sink, sb)
	if err != nil {
		sb.Status.MarkNoSink(ReasonSinkNotFound, "The sink does not resolve: %v. Create the object spec.sink refers to, or correct the reference.", err)
		// The subjects are left as they are (see Do): the sink may be
		// back in a moment, and the resolver's tracking brings the
		// binding back here when it is.
		return nil
	}
	sb.Status.MarkSink(uri)
	err = r.binder.bind(ctx, sb)
	switch {
	case err == nil:
		return nil
	case apierrs.IsNotFound(err), isImmutableJob(err):
		// The kind is not served, or a Job existed before the binding:
		// retrying cannot help. A change to the binding, or to the
		// subject (the Job deleted), brings the binding back here.
		return controller.NewPermanentError(fmt.Errorf("binding the subjects of SinkBinding %s/%s: %w", sb.Namespace, sb.Name, err))
	}
	return fmt.Errorf("binding the subjects of SinkBinding %s/%s: %w", sb.Namespace, sb.Name, err)
}

// FinalizeKind implements sinkbindingreconciler.Finalizer: it removes the
// binding's variables from its subjects before the binding goes.
func (r *Reconciler) FinalizeKind(ctx context.Context, sb *sourcesv1.SinkBinding) reconciler.Event {
	err := r.binder.unbind(ctx, sb)
	switch {
	case err == nil:
		return nil
	case apierrs.IsNotFound(err):
		// The subject's kind is not served (any more): nothing to undo.
		return nil
	case apierrs.IsForbidden(err):
		// Nothing this controller may touch, nothing it can undo; keeping
		// the finalizer would only keep the binding from going.
		return nil
	case isImmutableJob(err):
		// A Job keeps the variables it was created with.
		return nil
	}
	return fmt.Errorf("removing SinkBinding %s/%s from its subjects: %w", sb.Namespace, sb.Name, err)
}

func isImmutableJob(err error) bool {
	var immutable *immutableJobError
	return errors.As(err, &immutable)
}
