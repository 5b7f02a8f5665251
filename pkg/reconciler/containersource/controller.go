package containersource

import (
	"context"

	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	flywheelclient "flywheel.dev/pkg/client/injection/client"
	containersourceinformer "flywheel.dev/pkg/client/injection/informers/sources/v1/containersource"
	sinkbindinginformer "flywheel.dev/pkg/client/injection/informers/sources/v1/sinkbinding"
	containersourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/containersource"
)

// NewController returns the controller of ContainerSources. A source is
// reconciled when it changes and when its Deployment or SinkBinding
// changes.
func NewController(ctx context.Context, _ configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	sourceInformer := containersourceinformer.Get(ctx)
	deploymentInformer := deploymentinformer.Get(ctx)
	sinkBindingInformer := sinkbindinginformer.Get(ctx)

	r := &Reconciler{
		kube:              kubeclient.Get(ctx),
		client:            flywheelclient.Get(ctx),
		deploymentLister:  deploymentInformer.Lister(),
		sinkBindingLister: sinkBindingInformer.Lister(),
	}
	impl := containersourcereconciler.NewImpl(ctx, r)

	watch := func(what string, informer cache.SharedIndexInformer, handler cache.ResourceEventHandler) {
		if _, err := informer.AddEventHandler(handler); err != nil {
			logger.Fatalw("Watching "+what, "error", err)
		}
	}
	watch("ContainerSources", sourceInformer.Informer(), controller.HandleAll(impl.Enqueue))
	owned := cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&sourcesv1.ContainerSource{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	}
	watch("Deployments", deploymentInformer.Informer(), owned)
	watch("SinkBindings", sinkBindingInformer.Informer(), owned)
	return impl
}
