package configuration

import (
	"context"

	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	"flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	configurationinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration"
	revisioninformer "flywheel.dev/pkg/client/injection/informers/serving/v1/revision"
	configurationreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/configuration"
)

// NewController returns the controller of Configurations. It reconciles a
// Configuration when it changes, when a Revision it controls changes (to
// follow its readiness), and when one of the configuration ConfigMaps
// changes (their defaults complete the template).
func NewController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	configurationInformer := configurationinformer.Get(ctx)
	revisionInformer := revisioninformer.Get(ctx)

	r := &Reconciler{
		client:         servingclient.Get(ctx),
		revisionLister: revisionInformer.Lister(),
		clock:          clock.RealClock{},
	}
	impl := configurationreconciler.NewImpl(ctx, r, func(impl *controller.Impl) controller.Options {
		store := config.NewStore(logger.Named("config-store"), func(string, any) {
			impl.GlobalResync(configurationInformer.Informer())
		})
		store.WatchConfigs(cmw)
		return controller.Options{ConfigStore: store}
	})

	if _, err := configurationInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching Configurations", "error", err)
	}
	if _, err := revisionInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&v1.Configuration{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	}); err != nil {
		logger.Fatalw("Watching Revisions", "error", err)
	}
	return impl
}
