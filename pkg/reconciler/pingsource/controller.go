package pingsource

import (
	"context"

	"k8s.io/client-go/tools/cache"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/system"

	pingsourceinformer "flywheel.dev/pkg/client/injection/informers/sources/v1/pingsource"
	pingsourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/pingsource"
	"flywheel.dev/pkg/sources/ping"
)

// NewController returns the controller of PingSources. It reconciles a
// PingSource when it changes, when what its sink refers to changes, and
// every PingSource when the adapter's Deployment changes.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	sourceInformer := pingsourceinformer.Get(ctx)
	deploymentInformer := deploymentinformer.Get(ctx)

	r := &Reconciler{
		deploymentLister: deploymentInformer.Lister(),
		systemNamespace:  system.Namespace(),
	}
	impl := pingsourcereconciler.NewImpl(ctx, r)
	r.uriResolver = resolver.NewURIResolverFromTracker(ctx, impl.Tracker)

	if _, err := sourceInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching PingSources", "error", err)
	}
	// One adapter serves every PingSource: its availability is each
	// one's Deployed condition.
	if _, err := deploymentInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterWithNameAndNamespace(r.systemNamespace, ping.AdapterDeploymentName),
		Handler: controller.HandleAll(func(any) {
			impl.GlobalResync(sourceInformer.Informer())
		}),
	}); err != nil {
		logger.Fatalw("Watching the PingSource adapter's Deployment", "error", err)
	}
	return impl
}
