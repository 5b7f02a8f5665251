package hpa

import (
	"context"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	autoscalingv2listers "k8s.io/client-go/listers/autoscaling/v2"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/kmeta"
	pkgreconciler "knative.dev/pkg/reconciler"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	pareconciler "flywheel.dev/pkg/client/injection/reconciler/autoscaling/v1alpha1/podautoscaler"
	"flywheel.dev/pkg/reconciler/autoscaling/hpa/resources"
	"flywheel.dev/pkg/reconciler/autoscaling/podscale"
)

// ReasonNotOwned says an HPA of the PodAutoscaler's name exists that is
// not the PodAutoscaler's.
const ReasonNotOwned = "NotOwned"

// Reconciler keeps a PodAutoscaler's HPA and owns its Revision's step
// between zero and one pod.
type Reconciler struct {
	kube             kubernetes.Interface
	hpaLister        autoscalingv2listers.HorizontalPodAutoscalerLister
	deploymentLister appsv1listers.DeploymentLister
	podLister        corev1listers.PodLister
	deciders         podscale.Deciders
	config           func(context.Context) *config.Autoscaler
}

var _ pareconciler.Interface = (*Reconciler)(nil)

// ReconcileKind writes the HPA, then takes the Deployment to zero when the
// Revision's requests (measured as the built-in class would) say so, and
// back to one when a request waits at the activator. Between one and the
// maximum the HPA scales alone: it leaves a Deployment at zero alone, so
// the two never fight.
func (r *Reconciler) ReconcileKind(ctx context.Context, pa *autoscalingv1alpha1.PodAutoscaler) pkgreconciler.Event {
	pa.Status.InitializeConditions()
	cfg := r.config(ctx)
	want, err := resources.MakeHPA(pa, cfg)
	if err != nil {
		pa.Status.MarkScaleTargetNotInitialized(podscale.ReasonInvalidSpec, err.Error())
		return controller.NewPermanentError(fmt.Errorf("PodAutoscaler %s/%s: %w", pa.Namespace, pa.Name, err))
	}
	hpa, err := r.reconcileHPA(ctx, pa, want)
	if err != nil {
		return err
	}

	// The 0↔1 step follows the requests, whatever the HPA scales on:
	// the built-in class's decider on concurrency, with its windows,
	// grace period and bounds, read for zero or not zero only.
	rev := types.NamespacedName{Namespace: pa.Namespace, Name: pa.Name}
	spec, err := scaling.SpecFor(requestAnnotations(pa.Annotations), pa.Spec.ContainerConcurrency,
		pa.Spec.Reachability != autoscalingv1alpha1.ReachabilityUnreachable, cfg)
	if err != nil {
		pa.Status.MarkScaleTargetNotInitialized(podscale.ReasonInvalidSpec, err.Error())
		return controller.NewPermanentError(fmt.Errorf("PodAutoscaler %s: %w", rev, err))
	}
	r.deciders.Watch(rev, metrics.Concurrency, &spec)

	t, err := podscale.GetTarget(pa, r.deploymentLister, r.podLister)
	if t == nil || err != nil {
		return err
	}
	d, ready, initialized := t.Deployment, t.Ready, t.Initialized

	current := podscale.Replicas(d)
	desired := current
	if hpa.Status.DesiredReplicas > 0 && current > 0 {
		desired = hpa.Status.DesiredReplicas
	}
	decision, decided := r.deciders.Decision(rev)
	if decided {
		switch {
		case current == 0 && decision.DesiredPods > 0:
			desired = max(1, spec.ActivationScale)
		case current > 0 && decision.DesiredPods == 0 && initialized:
			desired = 0
		}
	}
	if (current == 0) != (desired == 0) {
		if err := podscale.Scale(ctx, r.kube, d, desired); err != nil {
			return err
		}
	}
	podscale.MarkScale(pa, desired, ready)
	// The HPA scales on its own figures, which say nothing of spare
	// capacity: the activator comes in only at the zero edge (and with
	// target-burst-capacity -1).
	podscale.MarkActivatorPath(pa, spec, ready, decision, decided, false)
	return nil
}

// reconcileHPA creates or updates the PodAutoscaler's HPA.
func (r *Reconciler) reconcileHPA(ctx context.Context, pa *autoscalingv1alpha1.PodAutoscaler, want *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	have, err := r.hpaLister.HorizontalPodAutoscalers(pa.Namespace).Get(want.Name)
	if apierrors.IsNotFound(err) {
		created, err := r.kube.AutoscalingV2().HorizontalPodAutoscalers(pa.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("creating HorizontalPodAutoscaler %s: %w", want.Name, err)
		}
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting HorizontalPodAutoscaler %s: %w", want.Name, err)
	}
	if !metav1.IsControlledBy(have, pa) {
		msg := fmt.Sprintf("There is an existing HorizontalPodAutoscaler %q that we do not own.", want.Name)
		pa.Status.MarkScaleTargetNotInitialized(ReasonNotOwned, msg)
		return nil, controller.NewPermanentError(fmt.Errorf("PodAutoscaler %s/%s: %s", pa.Namespace, pa.Name, msg))
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) {
		return have, nil
	}
	update := have.DeepCopy()
	update.Spec = want.Spec
	updated, err := r.kube.AutoscalingV2().HorizontalPodAutoscalers(pa.Namespace).Update(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating HorizontalPodAutoscaler %s: %w", want.Name, err)
	}
	return updated, nil
}

// requestAnnotations are pa's annotations as the built-in class reads
// them for the 0↔1 step: on requests in flight, with the target the
// metric had only when that metric is concurrency.
func requestAnnotations(annotations map[string]string) map[string]string {
	out := kmeta.CopyMap(annotations)
	if m := out[serving.MetricAnnotation.String()]; m != serving.MetricConcurrency {
		out[serving.MetricAnnotation.String()] = serving.MetricConcurrency
		delete(out, serving.TargetAnnotation.String())
	}
	delete(out, serving.ClassAnnotation.String())
	return out
}
