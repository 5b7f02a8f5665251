package kpa

import (
	"context"

	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	podinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	pareconciler "flywheel.dev/pkg/client/injection/reconciler/autoscaling/v1alpha1/podautoscaler"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// agentName names this reconciler in the events it records.
const agentName = "kpa-controller"

// NewController returns the controller of the built-in class's
// PodAutoscalers, acting on loops' decisions. Whoever runs the loops
// enqueues a PodAutoscaler whose loop's decision changed; the Revision's
// Deployment and pods changing bring it back too (they carry the
// Revision's label, and a PodAutoscaler is named after its Revision). A
// deleted PodAutoscaler's loop ends.
func NewController(ctx context.Context, cmw configmap.Watcher, loops podscale.Loops) *controller.Impl {
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

	if err := podscale.Watch(impl, isKPA, paInformer.Informer(), deploymentInformer.Informer(), podInformer.Informer(), loops.Forget); err != nil {
		logger.Fatalw("Setting up the controller", "error", err)
	}
	return impl
}

// isKPA reports whether obj is a PodAutoscaler of the built-in class.
func isKPA(obj any) bool {
	pa, ok := obj.(*autoscalingv1alpha1.PodAutoscaler)
	return ok && pa.Class() == serving.KPAClass
}
