package kpa

import (
	"context"

	kubeclient "knative.dev/pkg/client/injection/kube/client"
	deploymentinformer "knative.dev/pkg/client/injection/kube/informers/apps/v1/deployment"
	podinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/pod"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"

	"flywheel.dev/pkg/apis/serving"
	painformer "flywheel.dev/pkg/client/injection/informers/autoscaling/v1alpha1/podautoscaler"
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
	informers := podscale.Informers{
		PodAutoscalers: painformer.Get(ctx).Informer(),
		Deployments:    deploymentinformer.Get(ctx).Informer(),
		Pods:           podinformer.Get(ctx).Informer(),
	}
	r := &Reconciler{
		kube:             kubeclient.Get(ctx),
		deploymentLister: deploymentinformer.Get(ctx).Lister(),
		podLister:        podinformer.Get(ctx).Lister(),
		deciders:         loops,
	}
	return podscale.NewImpl(ctx, cmw, r, serving.KPAClass, agentName, informers, loops)
}
