package podscale

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	pkgreconciler "knative.dev/pkg/reconciler"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
	pareconciler "flywheel.dev/pkg/client/injection/reconciler/autoscaling/v1alpha1/podautoscaler"
)

// Reasons of the PodAutoscaler's conditions.
const (
	// ReasonNoTraffic: scaled to zero; the activator takes the requests.
	ReasonNoTraffic = "NoTraffic"
	// ReasonQueued: pods are asked for and none is ready; the activator
	// holds the requests.
	ReasonQueued = "Queued"
	// ReasonInvalidSpec: the annotations cannot be acted on.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonTargetMissing: the Deployment does not exist yet.
	ReasonTargetMissing = "TargetMissing"
)

// Reasons of the ActivatorInPath condition.
const (
	// ReasonNoReadyPods: the activator holds requests until a pod is
	// ready.
	ReasonNoReadyPods = "NoReadyPods"
	// ReasonScalingToZero: the last pod is kept for the grace period with
	// the activator in front, so that no request is lost while the
	// endpoints switch.
	ReasonScalingToZero = "ScalingToZero"
	// ReasonAlwaysInPath: target-burst-capacity is -1.
	ReasonAlwaysInPath = "AlwaysInPath"
	// ReasonBelowBurstCapacity: the ready pods' spare capacity is below
	// the target burst capacity.
	ReasonBelowBurstCapacity = "BelowBurstCapacity"
	// ReasonEnoughCapacity: requests go straight to the ready pods.
	ReasonEnoughCapacity = "EnoughCapacity"
)

// ReadyPodIPs returns the addresses of the Revision's ready pods that are
// not being deleted: the pods a scrape reaches and the decider counts.
func ReadyPodIPs(lister corev1listers.PodLister, rev types.NamespacedName) ([]string, error) {
	pods, err := lister.Pods(rev.Namespace).List(labels.SelectorFromSet(labels.Set{serving.RevisionLabel.String(): rev.Name}))
	if err != nil {
		return nil, fmt.Errorf("listing the pods of Revision %s: %w", rev, err)
	}
	var ips []string
	for _, p := range pods {
		if p.Status.PodIP != "" && metrics.PodServing(p) {
			ips = append(ips, p.Status.PodIP)
		}
	}
	return ips, nil
}

// ActualPods counts the Revision's pods that exist and are not on their
// way out: ready or not yet, neither being deleted nor finished.
func ActualPods(lister corev1listers.PodLister, rev types.NamespacedName) (int, error) {
	pods, err := lister.Pods(rev.Namespace).List(labels.SelectorFromSet(labels.Set{serving.RevisionLabel.String(): rev.Name}))
	if err != nil {
		return 0, fmt.Errorf("listing the pods of Revision %s: %w", rev, err)
	}
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n, nil
}

// Replicas is what the Deployment asks for.
func Replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// ScalingMessage is what Scale logs before it writes a new scale.
const ScalingMessage = "scaling the Deployment"

// Scale sets the Deployment's replicas through its scale subresource, as
// any autoscaler does, so that nothing else of the Deployment is touched.
func Scale(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment, replicas int32) error {
	// One line per change of scale: it dates a scale from zero in the
	// logs, which test/bench/autoscaling reads to time a cold start.
	logging.FromContext(ctx).Infow(ScalingMessage, "deployment", d.Namespace+"/"+d.Name, "from", Replicas(d), "to", replicas)
	_, err := kube.AppsV1().Deployments(d.Namespace).UpdateScale(ctx, d.Name, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("scaling Deployment %s to %d: %w", d.Name, replicas, err)
	}
	return nil
}

// MarkInitialized marks the scale target initialized once all the pods
// the Deployment asks for are ready, and says whether it is.
func MarkInitialized(pa *autoscalingv1alpha1.PodAutoscaler, d *appsv1.Deployment, ready int32) bool {
	if pa.Status.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionScaleTargetInitialized).IsTrue() {
		return true
	}
	if ready > 0 && ready >= Replicas(d) {
		pa.Status.MarkScaleTargetInitialized()
		return true
	}
	return false
}

// MarkScale reports the desired and ready pods and, from them, whether the
// Revision is active.
func MarkScale(pa *autoscalingv1alpha1.PodAutoscaler, desired, ready int32) {
	pa.Status.DesiredScale, pa.Status.ActualScale = &desired, &ready
	switch {
	case ready > 0:
		pa.Status.MarkActive()
	case desired == 0:
		pa.Status.MarkInactive(ReasonNoTraffic, "The target is not receiving traffic.")
	default:
		pa.Status.MarkActivating(ReasonQueued, "Requests to the target are being buffered as resources are provisioned.")
	}
	// The serverless-service reconciler switches the endpoints from the
	// pods it sees; nothing here waits on it.
	pa.Status.MarkEndpointsReady()
}

// MarkActivatorPath says whether the Revision's requests should go
// through the activator, and why: while no pod is ready, while the
// Revision scales to zero, always with a target burst capacity of -1, and,
// with burstCapacity, while the ready pods' spare capacity is below the
// target burst capacity and for a stable window after. The decision, once there is one (decided),
// carries the load; before the first the ready pods are measured against
// none, so that a new Revision does not switch a second after it served.
//
// The messages hold nothing measured: the condition changes only when
// the answer does, not with every second's load.
func MarkActivatorPath(pa *autoscalingv1alpha1.PodAutoscaler, spec scaling.Spec, ready int32, decision scaling.Decision, decided, burstCapacity bool) {
	excess := decision.ExcessBurstCapacity
	if !decided {
		excess = scaling.ExcessBurstCapacity(spec, scaling.Load{ReadyPods: ready})
	}
	switch {
	case ready == 0:
		pa.Status.MarkActivatorInPath(ReasonNoReadyPods, "No pod is ready: the activator holds requests until one is.")
	case decided && decision.ScalingToZero:
		pa.Status.MarkActivatorInPath(ReasonScalingToZero, "The Revision is scaling to zero: requests go through the activator so that none is lost when the last pod goes.")
	case spec.TargetBurstCapacity < 0:
		pa.Status.MarkActivatorInPath(ReasonAlwaysInPath, "target-burst-capacity is -1: requests always go through the activator.")
	case burstCapacity && (excess < 0 || decision.BelowBurstCapacity):
		pa.Status.MarkActivatorInPath(ReasonBelowBurstCapacity, fmt.Sprintf(
			"The ready pods' spare capacity is below the target burst capacity of %g, or was within the stable window (%s): the activator spreads requests over them and buffers bursts while more start.",
			spec.TargetBurstCapacity, spec.StableWindow))
	case burstCapacity:
		pa.Status.MarkActivatorOutOfPath(ReasonEnoughCapacity, fmt.Sprintf(
			"The ready pods' spare capacity covers the target burst capacity of %g: requests go straight to them.", spec.TargetBurstCapacity))
	default:
		pa.Status.MarkActivatorOutOfPath(ReasonEnoughCapacity, "Pods are ready: requests go straight to them.")
	}
}

// Target is a PodAutoscaler's Deployment as both classes act on it.
type Target struct {
	Deployment *appsv1.Deployment
	// Ready counts the Revision's ready pods.
	Ready int32
	// Initialized says the Deployment has had all its initial pods
	// ready once.
	Initialized bool
}

// GetTarget reads the PodAutoscaler's Deployment and its Revision's ready
// pods, and marks the target initialized once it is. It returns nil
// (and marks why) while the Deployment does not exist: the Revision
// reconciler makes it, and its informer brings the PodAutoscaler back.
func GetTarget(pa *autoscalingv1alpha1.PodAutoscaler, deployments appsv1listers.DeploymentLister, pods corev1listers.PodLister) (*Target, error) {
	name := pa.Spec.ScaleTargetRef.Name
	d, err := deployments.Deployments(pa.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		pa.Status.MarkScaleTargetNotInitialized(ReasonTargetMissing, fmt.Sprintf("Deployment %s does not exist yet", name))
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting Deployment %s: %w", name, err)
	}
	ips, err := ReadyPodIPs(pods, types.NamespacedName{Namespace: pa.Namespace, Name: pa.Name})
	if err != nil {
		return nil, err
	}
	t := &Target{Deployment: d, Ready: int32(len(ips))}
	t.Initialized = MarkInitialized(pa, d, t.Ready)
	return t, nil
}

// Watch feeds impl, the controller of one class (isClass): its
// PodAutoscalers, ending a deleted one's loop with forget; and the
// Deployments and pods of Revisions, by the Revision's label, which a
// PodAutoscaler is named after.
func Watch(impl *controller.Impl, isClass func(any) bool, pas, deployments, pods cache.SharedIndexInformer, forget func(types.NamespacedName)) error {
	if _, err := pas.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: isClass,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    impl.Enqueue,
			UpdateFunc: controller.PassNew(impl.Enqueue),
			DeleteFunc: func(obj any) {
				if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
					ns, name, _ := cache.SplitMetaNamespaceKey(key)
					forget(types.NamespacedName{Namespace: ns, Name: name})
				}
			},
		},
	}); err != nil {
		return fmt.Errorf("watching PodAutoscalers: %w", err)
	}
	revisionLabel := serving.RevisionLabel.String()
	byRevision := cache.FilteringResourceEventHandler{
		FilterFunc: pkgreconciler.LabelExistsFilterFunc(revisionLabel),
		Handler:    controller.HandleAll(impl.EnqueueLabelOfNamespaceScopedResource("", revisionLabel)),
	}
	if _, err := deployments.AddEventHandler(byRevision); err != nil {
		return fmt.Errorf("watching Deployments: %w", err)
	}
	if _, err := pods.AddEventHandler(byRevision); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	return nil
}

// Deciders is what a reconciler needs of the autoscaler's per-Revision
// loops (autoscaler.Revisions).
type Deciders interface {
	// Watch starts or updates a Revision's loop.
	Watch(rev types.NamespacedName, figure metrics.Figure, spec *scaling.Spec)
	// Decision is the loop's latest decision; false before its first.
	Decision(rev types.NamespacedName) (scaling.Decision, bool)
}

// Loops is what a controller needs of them: the reconciler's Deciders,
// and an end to a deleted PodAutoscaler's loop.
type Loops interface {
	Deciders
	Forget(rev types.NamespacedName)
}

// Informers are the informers both classes' reconcilers read.
type Informers struct {
	PodAutoscalers, Deployments, Pods cache.SharedIndexInformer
}

// NewImpl returns the controller of class's PodAutoscalers around r: it
// watches config-autoscaler (resyncing the class's PodAutoscalers when it
// changes) and feeds the controller as Watch does. Whoever runs loops
// enqueues a PodAutoscaler whose loop's decision changed.
func NewImpl(ctx context.Context, cmw configmap.Watcher, r pareconciler.Interface, class, agentName string, informers Informers, loops Loops) *controller.Impl {
	logger := logging.FromContext(ctx)
	isClass := func(obj any) bool {
		pa, ok := obj.(*autoscalingv1alpha1.PodAutoscaler)
		return ok && pa.Class() == class
	}
	impl := pareconciler.NewImpl(ctx, r, class, func(impl *controller.Impl) controller.Options {
		store := NewConfigStore(logger.Named("config-store"), func(string, any) {
			impl.FilteredGlobalResync(isClass, informers.PodAutoscalers)
		})
		store.WatchConfigs(cmw)
		return controller.Options{AgentName: agentName, ConfigStore: store}
	})
	if err := Watch(impl, isClass, informers.PodAutoscalers, informers.Deployments, informers.Pods, loops.Forget); err != nil {
		logger.Fatalw("Setting up the controller", "error", err)
	}
	return impl
}
