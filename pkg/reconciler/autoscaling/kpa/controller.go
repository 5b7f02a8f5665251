package kpa

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	podinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	pareconciler "flywheel.dev/pkg/client/injection/reconciler/autoscaling/v1alpha1/podautoscaler"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// agentName names this reconciler in the events it records.
const agentName = "kpa-controller"

// Loops is what the controller needs of the autoscaler's per-Revision
// loops (autoscaler.Revisions): the reconciler's Deciders, and an end to
// a deleted PodAutoscaler's loop.
type Loops interface {
	Deciders
	Forget(rev types.NamespacedName)
}

// NewController returns the controller of the built-in class's
// PodAutoscalers, acting on loops' decisions. Whoever runs the loops
// enqueues a PodAutoscaler whose loop's decision changed; the Revision's
// Deployment and pods changing bring it back too (they carry the
// Revision's label, and a PodAutoscaler is named after its Revision). A
// deleted PodAutoscaler's loop ends.
func NewController(ctx context.Context, cmw configmap.Watcher, loops Loops) *controller.Impl {
	logger := logging.FromContext(ctx)
	paInformer := painformer.Get(ctx)
	deploymentInformer := deploymentinformer.Get(ctx)
	podInformer := podinformer.Get(ctx)

	r := &Reconciler{
		kube:             kubeclient.Get(ctx),
		deploymentLister: deploymentInformer.Lister(),
		podLister:        podInformer.Lister(),
		deciders:         loops,
	}
	impl := pareconciler.NewImpl(ctx, r, serving.KPAClass, func(impl *controller.Impl) controller.Options {
		store := podscale.NewConfigStore(logger.Named("config-store"), func(string, any) {
			impl.FilteredGlobalResync(isKPA, paInformer.Informer())
		})
		store.WatchConfigs(cmw)
		return controller.Options{AgentName: agentName, ConfigStore: store}
	})

	if _, err := paInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: isKPA,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    impl.Enqueue,
			UpdateFunc: controller.PassNew(impl.Enqueue),
			DeleteFunc: func(obj any) {
				if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
					ns, name, _ := cache.SplitMetaNamespaceKey(key)
					loops.Forget(types.NamespacedName{Namespace: ns, Name: name})
				}
			},
		},
	}); err != nil {
		logger.Fatalw("Watching PodAutoscalers", "error", err)
	}
	revisionLabel := serving.RevisionLabel.String()
	byRevision := cache.FilteringResourceEventHandler{
		FilterFunc: pkgreconciler.LabelExistsFilterFunc(revisionLabel),
		Handler:    controller.HandleAll(impl.EnqueueLabelOfNamespaceScopedResource("", revisionLabel)),
	}
	if _, err := deploymentInformer.Informer().AddEventHandler(byRevision); err != nil {
		logger.Fatalw("Watching Deployments", "error", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(byRevision); err != nil {
		logger.Fatalw("Watching pods", "error", err)
	}
	return impl
}

// isKPA reports whether obj is a PodAutoscaler of the built-in class.
func isKPA(obj any) bool {
	pa, ok := obj.(*autoscalingv1alpha1.PodAutoscaler)
	return ok && pa.Class() == serving.KPAClass
}
