package serverlessservice

import (
	"context"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	endpointsliceinformer "knative.dev/pkg/client/injection/kube/informers/discovery/v1/endpointslice"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/system"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	revisioninformer "flywheel.dev/pkg/client/injection/informers/serving/v1/revision"
	revisionreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/revision"
)

// agentName names this reconciler in the events it records, apart from
// the Revision reconciler.
const agentName = "serverlessservice-controller"

// NewController returns the controller of the public Services'
// EndpointSlices. It is keyed by Revision: the Revision owns the public
// Service and the slices, and the mode to come depends on the Revision's
// scale, so one key gathers everything a decision needs. It runs when a
// Revision changes, and, for the request path's sake at once, when any
// EndpointSlice of a Revision changes: kube-controller-manager copies
// the private Service's labels, the Revision's among them, onto the
// slices it writes, and the slices written here carry it too; and when
// the Revision's PodAutoscaler changes, which says whether the autoscaler
// wants the activator in the path.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	revisionInformer := revisioninformer.Get(ctx)
	sliceInformer := endpointsliceinformer.Get(ctx)
	paInformer := painformer.Get(ctx)

	r := &Reconciler{
		kube:        kubeclient.Get(ctx),
		sliceLister: sliceInformer.Lister(),
		paLister:    paInformer.Lister(),
	}
	impl := revisionreconciler.NewImpl(ctx, r, func(*controller.Impl) controller.Options {
		return controller.Options{AgentName: agentName, SkipStatusUpdates: true}
	})

	if _, err := revisionInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching Revisions", "error", err)
	}
	// The autoscaler says on the PodAutoscaler when it wants the activator
	// in the path; the Revision owns its PodAutoscaler.
	if _, err := paInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&v1.Revision{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	}); err != nil {
		logger.Fatalw("Watching PodAutoscalers", "error", err)
	}
	revisionLabel := serving.RevisionLabel.String()
	if _, err := sliceInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: pkgreconciler.LabelExistsFilterFunc(revisionLabel),
		Handler:    controller.HandleAll(impl.EnqueueLabelOfNamespaceScopedResource("", revisionLabel)),
	}); err != nil {
		logger.Fatalw("Watching EndpointSlices", "error", err)
	}
	// The activator's endpoints are every proxied Revision's.
	if _, err := sliceInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: isActivatorSlice,
		Handler:    controller.HandleAll(func(any) { impl.GlobalResync(revisionInformer.Informer()) }),
	}); err != nil {
		logger.Fatalw("Watching the activator's EndpointSlices", "error", err)
	}
	return impl
}

// isActivatorSlice reports whether obj is an EndpointSlice of the
// activator's Service.
func isActivatorSlice(obj any) bool {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	return ok && s.Namespace == system.Namespace() && s.Labels[discoveryv1.LabelServiceName] == activator.ServiceName
}
