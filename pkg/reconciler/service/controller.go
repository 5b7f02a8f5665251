package service

import (
	"context"

	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	"flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	configurationinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration"
	routeinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/route"
	serviceinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/service"
	servicereconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/service"
)

// NewController returns the controller of Services. It reconciles a
// Service when it changes, when a Configuration or Route it controls
// changes, and when one of the configuration ConfigMaps changes (their
// defaults complete the template the Configuration is compared with).
func NewController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	serviceInformer := serviceinformer.Get(ctx)
	configurationInformer := configurationinformer.Get(ctx)
	routeInformer := routeinformer.Get(ctx)

	r := &Reconciler{
		client:              servingclient.Get(ctx),
		configurationLister: configurationInformer.Lister(),
		routeLister:         routeInformer.Lister(),
	}
	impl := servicereconciler.NewImpl(ctx, r, func(impl *controller.Impl) controller.Options {
		store := config.NewStore(logger.Named("config-store"), func(string, any) {
			impl.GlobalResync(serviceInformer.Informer())
		})
		store.WatchConfigs(cmw)
		return controller.Options{ConfigStore: store}
	})

	if _, err := serviceInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching Services", "error", err)
	}
	owned := cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&v1.Service{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	}
	if _, err := configurationInformer.Informer().AddEventHandler(owned); err != nil {
		logger.Fatalw("Watching Configurations", "error", err)
	}
	if _, err := routeInformer.Informer().AddEventHandler(owned); err != nil {
		logger.Fatalw("Watching Routes", "error", err)
	}
	return impl
}
