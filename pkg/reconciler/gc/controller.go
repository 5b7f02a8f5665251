package gc

import (
	"context"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	configurationinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration"
	revisioninformer "flywheel.dev/pkg/client/injection/informers/serving/v1/revision"
	configurationreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/configuration"
	"flywheel.dev/pkg/reconciler/gc/config"
)

// agentName names the garbage collector in the events it records, apart
// from the Configuration reconciler.
const agentName = "revision-gc-controller"

// NewController returns the garbage collector of Revisions. It runs over
// Configurations beside their own reconciler, without touching their
// status, and looks again when a Configuration or one of its Revisions
// changes (a Route letting a Revision go changes its routingState), when
// a kept Revision comes of age, and, everywhere, when config-gc changes.
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
		return controller.Options{ConfigStore: store, AgentName: agentName, SkipStatusUpdates: true}
	})
	r.enqueueAfter = func(cfg *v1.Configuration, after time.Duration) { impl.EnqueueAfter(cfg, after) }

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
