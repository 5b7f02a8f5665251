package kpa

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"knative.dev/pkg/controller"
	pkgreconciler "knative.dev/pkg/reconciler"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	pareconciler "flywheel.dev/pkg/client/injection/reconciler/autoscaling/v1alpha1/podautoscaler"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// Reconciler scales a Revision's Deployment to what its loop decides.
type Reconciler struct {
	kube             kubernetes.Interface
	deploymentLister appsv1listers.DeploymentLister
	podLister        corev1listers.PodLister
	deciders         podscale.Deciders
}

var _ pareconciler.Interface = (*Reconciler)(nil)

// ReconcileKind keeps the PodAutoscaler's loop running with its spec,
// scales its Deployment to the loop's decision and reports the scale.
func (r *Reconciler) ReconcileKind(ctx context.Context, pa *autoscalingv1alpha1.PodAutoscaler) pkgreconciler.Event {
	pa.Status.InitializeConditions()
	rev := types.NamespacedName{Namespace: pa.Namespace, Name: pa.Name}
	reachable := pa.Spec.Reachability != autoscalingv1alpha1.ReachabilityUnreachable
	spec, err := scaling.SpecFor(pa.Annotations, pa.Spec.ContainerConcurrency, reachable, podscale.AutoscalerConfig(ctx))
	if err != nil {
		pa.Status.MarkScaleTargetNotInitialized(podscale.ReasonInvalidSpec, err.Error())
		return controller.NewPermanentError(fmt.Errorf("PodAutoscaler %s: %w", rev, err))
	}
	figure := metrics.Concurrency
	if pa.Metric() == serving.MetricRPS {
		figure = metrics.RPS
	}
	r.deciders.Watch(rev, figure, &spec)

	t, err := podscale.GetTarget(pa, r.deploymentLister, r.podLister)
	if t == nil || err != nil {
		return err
	}
	d, ready, initialized := t.Deployment, t.Ready, t.Initialized

	want := podscale.Replicas(d)
	decision, decided := r.deciders.Decision(rev)
	if decided {
		// Until the Deployment first reached its initial scale no
		// traffic has had a chance to show: scaling down then would end
		// a Revision before it served.
		if initialized || decision.DesiredPods > want {
			want = decision.DesiredPods
		}
	}
	if want != podscale.Replicas(d) {
		if err := podscale.Scale(ctx, r.kube, d, want); err != nil {
			return err
		}
	}
	podscale.MarkScale(pa, want, ready)
	podscale.MarkActivatorPath(pa, spec, ready, decision, decided, true)
	return nil
}
