package revision

import (
	"context"
	"time"

	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	podinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod"
	serviceinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/service"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection/clients/dynamicclient"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"

	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	servingclient "flywheel.dev/pkg/client/injection/client"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	revisioninformer "flywheel.dev/pkg/client/injection/informers/serving/v1/revision"
	revisionreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/revision"
)

// vpaDiscoveryPeriod is how often the controller asks whether the
// VerticalPodAutoscaler's API is served yet: an install of the VPA after
// Flywheel's is noticed within it.
const vpaDiscoveryPeriod = 30 * time.Second

// NewController returns the controller of Revisions. A Revision is
// reconciled when it changes, when an object it controls changes, when
// one of its pods changes (that is where failures show), and when
// config-deployment or config-autoscaler changes.
func NewController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	logger := logging.FromContext(ctx)
	revisionInformer := revisioninformer.Get(ctx)
	deploymentInformer := deploymentinformer.Get(ctx)
	serviceInformer := serviceinformer.Get(ctx)
	podInformer := podinformer.Get(ctx)
	paInformer := painformer.Get(ctx)
	vpas := &vpaWatch{}

	r := &Reconciler{
		kube:             kubeclient.Get(ctx),
		client:           servingclient.Get(ctx),
		deploymentLister: deploymentInformer.Lister(),
		serviceLister:    serviceInformer.Lister(),
		podLister:        podInformer.Lister(),
		paLister:         paInformer.Lister(),
		resolver:         RegistryResolver{},
		dynamic:          dynamicclient.Get(ctx),
		vpas:             vpas,
	}
	impl := revisionreconciler.NewImpl(ctx, r, func(impl *controller.Impl) controller.Options {
		store := newConfigStore(logger.Named("config-store"), func(string, any) {
			impl.GlobalResync(revisionInformer.Informer())
		})
		store.WatchConfigs(cmw)
		return controller.Options{ConfigStore: store}
	})

	watch := func(what string, informer cache.SharedIndexInformer, handler cache.ResourceEventHandler) {
		if _, err := informer.AddEventHandler(handler); err != nil {
			logger.Fatalw("Watching "+what, "error", err)
		}
	}
	watch("Revisions", revisionInformer.Informer(), controller.HandleAll(impl.Enqueue))
	owned := cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&v1.Revision{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	}
	watch("Deployments", deploymentInformer.Informer(), owned)
	watch("Services", serviceInformer.Informer(), owned)
	watch("PodAutoscalers", paInformer.Informer(), owned)
	// VerticalPodAutoscalers, once their CRD is installed: until then
	// Revisions that ask for advice say the VPA is missing, and they are
	// all reconciled again when it appears.
	go vpas.run(ctx, kubeclient.Get(ctx).Discovery(), dynamicclient.Get(ctx), vpaDiscoveryPeriod, owned, func() {
		impl.GlobalResync(revisionInformer.Informer())
	})
	// Pods belong to a ReplicaSet, not the Revision; the revision label
	// leads back to it.
	watch("Pods", podInformer.Informer(), cache.FilteringResourceEventHandler{
		FilterFunc: pkgreconciler.LabelExistsFilterFunc(serving.RevisionLabel.String()),
		Handler:    controller.HandleAll(impl.EnqueueLabelOfNamespaceScopedResource("", serving.RevisionLabel.String())),
	})
	return impl
}
