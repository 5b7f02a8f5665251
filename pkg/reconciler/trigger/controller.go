package trigger

import (
	"context"

	"k8s.io/apimachinery/pkg/labels"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	brokerinformer "flywheel.dev/pkg/client/injection/informers/eventing/v1/broker"
	triggerinformer "flywheel.dev/pkg/client/injection/informers/eventing/v1/trigger"
	triggerreconciler "flywheel.dev/pkg/client/injection/reconciler/eventing/v1/trigger"
	"flywheel.dev/pkg/eventing/jetstream"
)

// NewController returns the controller of Triggers. It reconciles a
// Trigger when it changes, when its Broker changes, and when what its
// subscriber or dead-letter sink refers to changes.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	triggerInformer := triggerinformer.Get(ctx)
	brokerInformer := brokerinformer.Get(ctx)

	r := &Reconciler{
		consumers:    jetstream.ManagerFrom(ctx),
		brokerLister: brokerInformer.Lister(),
	}
	impl := triggerreconciler.NewImpl(ctx, r)
	r.uriResolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)

	if _, err := triggerInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching Triggers", "error", err)
	}
	// A Broker's change reaches the Triggers that name it.
	if _, err := brokerInformer.Informer().AddEventHandler(controller.HandleAll(func(obj any) {
		b, ok := obj.(*eventingv1.Broker)
		if !ok {
			return
		}
		triggers, err := triggerInformer.Lister().Triggers(b.Namespace).List(labels.Everything())
		if err != nil {
			return
		}
		for _, t := range triggers {
			if t.Spec.Broker == b.Name {
				impl.Enqueue(t)
			}
		}
	})); err != nil {
		logger.Fatalw("Watching Brokers", "error", err)
	}
	return impl
}
