package sinkbinding

import (
	"context"

	"knative.dev/pkg/apis/duck"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/clients/dynamicclient"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/tracker"

	sinkbindinginformer "flywheel.dev/pkg/client/injection/informers/sources/v1/sinkbinding"
	sinkbindingreconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/sinkbinding"
)

// NewController returns the controller of SinkBindings. A SinkBinding is
// reconciled when it changes, when one of its subjects appears or
// changes, and when what its sink refers to changes.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	sinkBindingInformer := sinkbindinginformer.Get(ctx)

	r := &Reconciler{}
	impl := sinkbindingreconciler.NewImpl(ctx, r)
	r.resolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)
	r.binder = newBinder(ctx, subjectClient{dynamicclient.Get(ctx)}, impl.Tracker)

	if _, err := sinkBindingInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching SinkBindings", "error", err)
	}
	return impl
}

// newBinder returns a binder that reads and patches subjects through
// subjects. It starts an informer for each kind of subject the first time
// a binding names it, and tells t of every change of those kinds'
// objects; t brings back the bindings that track them.
func newBinder(ctx context.Context, subjects subjectClient, t tracker.Interface) *binder {
	return &binder{
		subjects: subjects,
		informers: &duck.CachedInformerFactory{Delegate: &duck.EnqueueInformerFactory{
			Delegate: &duck.TypedInformerFactory{
				Client:       subjects,
				Type:         &duckv1.WithPod{},
				ResyncPeriod: controller.GetResyncPeriod(ctx),
				StopChannel:  ctx.Done(),
			},
			EventHandler: controller.HandleAll(t.OnChanged),
		}},
		tracker: t,
	}
}
