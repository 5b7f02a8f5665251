package broker

import (
	"context"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	endpointsliceinformer "knative.dev/pkg/client/injection/kube/informers/discovery/v1/endpointslice"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/system"

	brokerinformer "flywheel.dev/pkg/client/injection/informers/eventing/v1/broker"
	triggerinformer "flywheel.dev/pkg/client/injection/informers/eventing/v1/trigger"
	brokerreconciler "flywheel.dev/pkg/client/injection/reconciler/eventing/v1/broker"
	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/jetstream"
)

// NewController returns the controller of Brokers. It reconciles a Broker
// when it changes, when what its dead-letter sink refers to changes, and
// every Broker when the ingress's endpoints change.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	brokerInformer := brokerinformer.Get(ctx)
	sliceInformer := endpointsliceinformer.Get(ctx)

	r := &Reconciler{
		streams:       jetstream.ManagerFrom(ctx),
		sliceLister:   sliceInformer.Lister(),
		triggerLister: triggerinformer.Get(ctx).Lister(),
		clock:         clock.RealClock{},
		clusterDomain: clusterDomain(),
	}
	impl := brokerreconciler.NewImpl(ctx, r)
	r.uriResolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)

	if _, err := brokerInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching Brokers", "error", err)
	}
	if _, err := sliceInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: isIngressSlice,
		Handler: controller.HandleAll(func(any) {
			impl.GlobalResync(brokerInformer.Informer())
		}),
	}); err != nil {
		logger.Fatalw("Watching EndpointSlices", "error", err)
	}
	return impl
}

func isIngressSlice(obj any) bool {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	return ok && s.Namespace == system.Namespace() && s.Labels[discoveryv1.LabelServiceName] == eventing.IngressServiceName
}
