package hpa

import (
	"context"

	"k8s.io/client-go/tools/cache"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	hpainformer "knative.dev/pkg/client/injection/kube/informers/autoscaling/v2/horizontalpodautoscaler"
	podinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// agentName names this reconciler in the events it records.
const agentName = "hpa-class-controller"

// NewController returns the controller of the HPA class's
// PodAutoscalers. Whoever runs loops enqueues a PodAutoscaler whose
// loop's decision changed; its HPA (owned), and the Revision's
// Deployment and pods (by the Revision's label) changing bring it back
// too. A deleted PodAutoscaler's loop ends; its HPA goes with it, by
// owner reference.
func NewController(ctx context.Context, cmw configmap.Watcher, loops podscale.Loops) *controller.Impl {
	hpaInformer := hpainformer.Get(ctx)
	informers := podscale.Informers{
		PodAutoscalers: painformer.Get(ctx).Informer(),
		Deployments:    deploymentinformer.Get(ctx).Informer(),
		Pods:           podinformer.Get(ctx).Informer(),
	}
	r := &Reconciler{
		kube:             kubeclient.Get(ctx),
		hpaLister:        hpaInformer.Lister(),
		deploymentLister: deploymentinformer.Get(ctx).Lister(),
		podLister:        podinformer.Get(ctx).Lister(),
		deciders:         loops,
		config:           podscale.AutoscalerConfig,
	}
	impl := podscale.NewImpl(ctx, cmw, r, serving.HPAClass, agentName, informers, loops)
	if _, err := hpaInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterController(&autoscalingv1alpha1.PodAutoscaler{}),
		Handler:    controller.HandleAll(impl.EnqueueControllerOf),
	}); err != nil {
		logging.FromContext(ctx).Fatalw("Watching HorizontalPodAutoscalers", "error", err)
	}
	return impl
}
