package route

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	serviceinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/service"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	configurationinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/configuration"
	revisioninformer "flywheel.dev/pkg/client/injection/informers/serving/v1/revision"
	routeinformer "flywheel.dev/pkg/client/injection/informers/serving/v1/route"
	routereconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/route"
	"flywheel.dev/pkg/reconciler/route/config"
	"flywheel.dev/pkg/reconciler/route/gatewayapi"
)

// NewController returns the controller of Routes. It reconciles a Route
// when it changes; when a Configuration, Revision, HTTPRoute or Service it
// names changes, through the tracker, which also hears of objects that do not
// exist yet; at each rollout step; and, all Routes, when config-network,
// config-domain or config-features changes, since hosts and rules follow
// from them.
func NewController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	routeInformer := routeinformer.Get(ctx)
	configurationInformer := configurationinformer.Get(ctx)
	revisionInformer := revisioninformer.Get(ctx)
	httpRouteInformer := gatewayapi.GetHTTPRouteInformer(ctx)
	serviceInformer := serviceinformer.Get(ctx)

	r := &Reconciler{
		client:              servingclient.Get(ctx),
		kubeClient:          kubeclient.Get(ctx),
		gatewayClient:       gatewayapi.GetClient(ctx),
		configurationLister: configurationInformer.Lister(),
		revisionLister:      revisionInformer.Lister(),
		httpRouteLister:     httpRouteInformer.Lister(),
		serviceLister:       serviceInformer.Lister(),
		clock:               clock.RealClock{},
	}
	impl := routereconciler.NewImpl(ctx, r, func(impl *controller.Impl) controller.Options {
		store := config.NewStore(logger.Named("config-store"), func(string, any) {
			impl.GlobalResync(routeInformer.Informer())
		})
		store.WatchConfigs(cmw)
		return controller.Options{ConfigStore: store}
	})
	r.tracker = impl.Tracker
	r.enqueueAfter = func(route *v1.Route, after time.Duration) { impl.EnqueueAfter(route, after) }

	if _, err := routeInformer.Informer().AddEventHandler(controller.HandleAll(impl.Enqueue)); err != nil {
		logger.Fatalw("Watching Routes", "error", err)
	}
	for _, watch := range []struct {
		informer cache.SharedIndexInformer
		kind     string
		gvk      schema.GroupVersionKind
	}{
		{configurationInformer.Informer(), "Configurations", v1.SchemeGroupVersion.WithKind("Configuration")},
		{revisionInformer.Informer(), "Revisions", v1.SchemeGroupVersion.WithKind("Revision")},
		{httpRouteInformer.Informer(), "HTTPRoutes", schema.GroupVersion(gatewayv1.GroupVersion).WithKind("HTTPRoute")},
		{serviceInformer.Informer(), "Services", corev1.SchemeGroupVersion.WithKind("Service")},
	} {
		handler := controller.HandleAll(controller.EnsureTypeMeta(impl.Tracker.OnChanged, watch.gvk))
		if _, err := watch.informer.AddEventHandler(handler); err != nil {
			logger.Fatalw("Watching "+watch.kind, "error", err)
		}
	}
	return impl
}
