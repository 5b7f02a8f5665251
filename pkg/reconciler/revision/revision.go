package revision

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	clientset "flywheel.dev/pkg/client/clientset/versioned"
	revisionreconciler "flywheel.dev/pkg/client/injection/reconciler/serving/v1/revision"
	palisters "flywheel.dev/pkg/client/listers/autoscaling/v1alpha1"
	"flywheel.dev/pkg/reconciler/childmeta"
	"flywheel.dev/pkg/reconciler/revision/resources"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
	"flywheel.dev/pkg/registryauth"
)

// Reasons of the Revision's conditions and events.
const (
	// ReasonNotOwned says an object the Revision needs exists under its
	// name but belongs to someone else.
	ReasonNotOwned = "NotOwned"
	// ReasonCreated and ReasonUpdated are events on the Revision for its
	// child objects.
	ReasonCreated = "Created"
	ReasonUpdated = "Updated"
	// ReasonHealthy is ContainerHealthy's reason once a pod was ready.
	ReasonHealthy = "Healthy"
)

// Reconciler keeps a Revision's Deployment, PodAutoscaler and Services
// (and, with right-sizing advice on, its VerticalPodAutoscaler) in line
// with it, and reports on them.
type Reconciler struct {
	kube             kubernetes.Interface
	client           clientset.Interface
	deploymentLister appsv1listers.DeploymentLister
	serviceLister    corev1listers.ServiceLister
	podLister        corev1listers.PodLister
	paLister         palisters.PodAutoscalerLister
	resolver         DigestResolver
	// dynamic writes VerticalPodAutoscalers, which vpas lists once
	// their CRD is installed.
	dynamic dynamic.Interface
	vpas    vpaListerSource
}

var _ revisionreconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements revisionreconciler.Interface.
func (r *Reconciler) ReconcileKind(ctx context.Context, rev *v1.Revision) reconciler.Event {
	cfg := configFromContext(ctx)
	rev.Status.InitializeConditions()

	if err := r.resolveDigests(ctx, rev, cfg); err != nil {
		return err
	}
	deployment, err := r.reconcileDeployment(ctx, rev, cfg)
	if err != nil {
		return err
	}
	if err := r.reconcileService(ctx, rev, resources.MakePrivateService(rev)); err != nil {
		return err
	}
	if err := r.reconcileService(ctx, rev, resources.MakePublicService(rev)); err != nil {
		return err
	}
	pa, err := r.reconcilePodAutoscaler(ctx, rev)
	if err != nil {
		return err
	}
	recheck, err := r.reconcileRightSizing(ctx, rev, cfg)
	if err != nil {
		return err
	}

	pods, err := r.podLister.Pods(rev.Namespace).List(labels.SelectorFromSet(resources.Selector(rev)))
	if err != nil {
		return fmt.Errorf("listing the pods of revision %s: %w", rev.Name, err)
	}
	r.updateStatus(rev, deployment, pa, pods)
	if recheck > 0 {
		return controller.NewRequeueAfter(recheck)
	}
	return nil
}

// updateStatus turns what the Deployment, PodAutoscaler and pods say into
// the Revision's conditions.
func (r *Reconciler) updateStatus(rev *v1.Revision, d *appsv1.Deployment, pa *autoscalingv1alpha1.PodAutoscaler, pods []*corev1.Pod) {
	rs := &rev.Status
	rs.PropagateDeploymentStatus(&d.Status)
	rs.PropagateAutoscalerStatus(&pa.Status)
	if rs.ActualReplicas == nil {
		// Until an autoscaler reports, the Deployment's count is the
		// truth.
		rs.ActualReplicas = &d.Status.ReadyReplicas
	}

	recordDigests(rev, pods)

	switch failure := diagnose(pods); {
	case failure != nil && failure.resources:
		rs.MarkResourcesAvailableFalse(failure.reason, failure.message)
		rs.MarkContainerHealthyUnknown(failure.reason, "waiting for the pods to start")
	case failure != nil:
		rs.MarkContainerHealthyFalse(failure.reason, failure.message)
	case d.Status.ReadyReplicas > 0:
		rs.MarkContainerHealthyTrue()
		rs.MarkResourcesAvailableTrue()
	case rs.GetCondition(v1.RevisionConditionContainerHealthy).IsTrue():
		// Healthy once: scaling to zero does not make it less so.
	default:
		rs.MarkContainerHealthyUnknown(v1.ReasonDeploying, "waiting for a pod to become ready")
	}
}

// resolveDigests pins each container's image to the digest its tag names
// now, once, before the Deployment exists: the pods then run those bytes
// however the tag moves. It records one status for each container, as
// Knative does; the digest of an image Flywheel does not resolve (a
// registry in registries-skipping-tag-resolving, local mode's ko://
// executables) stays empty, the pods run that image as written, and
// recordDigests fills in what the node reports.
func (r *Reconciler) resolveDigests(ctx context.Context, rev *v1.Revision, cfg *Config) error {
	if len(rev.Status.ContainerStatuses) == len(rev.Spec.Containers) {
		return nil // resolved when the Revision was new
	}
	statuses := make([]v1.ContainerStatus, len(rev.Spec.Containers))
	// The credentials the Revision's pods pull with: a private image
	// resolves as it will pull.
	auth := registryauth.Keychain(ctx, r.kube, registryauth.PodOf(rev.Namespace, &rev.Spec.PodSpec))
	for i, c := range rev.Spec.Containers {
		statuses[i].Name = c.Name
		if r.resolver == nil {
			continue
		}
		digest, err := r.resolver.Resolve(ctx, c.Image, auth, cfg.Deployment)
		if err != nil {
			msg := fmt.Sprintf("Unable to fetch image %q: %v", c.Image, err)
			rev.Status.MarkContainerHealthyFalse(v1.ReasonContainerMissing, msg)
			rev.Status.MarkResourcesAvailableFalse(v1.ReasonContainerMissing, msg)
			return fmt.Errorf("revision %s: %s", rev.Name, msg)
		}
		statuses[i].ImageDigest = digest
	}
	rev.Status.ContainerStatuses = statuses
	return nil
}

// reconcileDeployment creates or updates the Deployment. Its replicas are
// the autoscaler's once it exists, so an update never changes them.
func (r *Reconciler) reconcileDeployment(ctx context.Context, rev *v1.Revision, cfg *Config) (*appsv1.Deployment, error) {
	want, err := resources.MakeDeployment(rev, cfg.Deployment, cfg.Autoscaler, *cfg.Observability)
	if err != nil {
		rev.Status.MarkResourcesAvailableFalse("InvalidSpec", err.Error())
		return nil, controller.NewPermanentError(err)
	}
	have, err := r.deploymentLister.Deployments(rev.Namespace).Get(want.Name)
	switch {
	case apierrs.IsNotFound(err):
		created, err := r.kube.AppsV1().Deployments(rev.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, createFailed(rev, "Deployment", want.Name, err)
		}
		controller.GetEventRecorder(ctx).Eventf(rev, corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", want.Name)
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("getting Deployment %s: %w", want.Name, err)
	case !metav1.IsControlledBy(have, rev):
		return nil, r.notOwned(rev, "Deployment", want.Name)
	}
	want.Spec.Replicas = have.Spec.Replicas
	if equality.Semantic.DeepDerivative(want.Spec, have.Spec) && childmeta.Carries(want.ObjectMeta, have.ObjectMeta) {
		return have, nil
	}
	update := have.DeepCopy()
	update.Spec = want.Spec
	childmeta.Merge(&update.ObjectMeta, want.ObjectMeta)
	updated, err := r.kube.AppsV1().Deployments(rev.Namespace).Update(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, updateFailed(rev, "Deployment", want.Name, err)
	}
	return updated, nil
}

// reconcileService creates or updates one of the Revision's Services,
// keeping what the API server assigned (cluster IPs).
func (r *Reconciler) reconcileService(ctx context.Context, rev *v1.Revision, want *corev1.Service) error {
	have, err := r.serviceLister.Services(rev.Namespace).Get(want.Name)
	switch {
	case apierrs.IsNotFound(err):
		if _, err := r.kube.CoreV1().Services(rev.Namespace).Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return createFailed(rev, "Service", want.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("getting Service %s: %w", want.Name, err)
	case !metav1.IsControlledBy(have, rev):
		return r.notOwned(rev, "Service", want.Name)
	}
	if equality.Semantic.DeepEqual(want.Spec.Ports, have.Spec.Ports) &&
		equality.Semantic.DeepEqual(want.Spec.Selector, have.Spec.Selector) && childmeta.Carries(want.ObjectMeta, have.ObjectMeta) {
		return nil
	}
	update := have.DeepCopy()
	update.Spec.Ports, update.Spec.Selector = want.Spec.Ports, want.Spec.Selector
	childmeta.Merge(&update.ObjectMeta, want.ObjectMeta)
	if _, err := r.kube.CoreV1().Services(rev.Namespace).Update(ctx, update, metav1.UpdateOptions{}); err != nil {
		return updateFailed(rev, "Service", want.Name, err)
	}
	return nil
}

func (r *Reconciler) reconcilePodAutoscaler(ctx context.Context, rev *v1.Revision) (*autoscalingv1alpha1.PodAutoscaler, error) {
	want := resources.MakePodAutoscaler(rev)
	have, err := r.paLister.PodAutoscalers(rev.Namespace).Get(names.PodAutoscaler(rev.Name))
	switch {
	case apierrs.IsNotFound(err):
		created, err := r.client.AutoscalingV1alpha1().PodAutoscalers(rev.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, createFailed(rev, "PodAutoscaler", want.Name, err)
		}
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("getting PodAutoscaler %s: %w", want.Name, err)
	case !metav1.IsControlledBy(have, rev):
		return nil, r.notOwned(rev, "PodAutoscaler", want.Name)
	}
	if equality.Semantic.DeepEqual(want.Spec, have.Spec) && childmeta.Carries(want.ObjectMeta, have.ObjectMeta) {
		return have, nil
	}
	update := have.DeepCopy()
	update.Spec = want.Spec
	childmeta.Merge(&update.ObjectMeta, want.ObjectMeta)
	updated, err := r.client.AutoscalingV1alpha1().PodAutoscalers(rev.Namespace).Update(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, updateFailed(rev, "PodAutoscaler", want.Name, err)
	}
	return updated, nil
}

// createFailed and updateFailed report a failed write of one of the
// Revision's objects. Unless the error only asks to try again, the API
// server's message turns ResourcesAvailable, and so Ready, False: a
// Deployment the API refuses, a quota or an admission policy is the
// user's to see, on the Revision and through it on the Configuration and
// the Service, instead of a Revision left Unknown. The error is returned
// either way, so the write is retried with back-off: a quota may free up
// or a policy change.
func createFailed(rev *v1.Revision, kind, name string, err error) error {
	if !asksForRetry(err) {
		rev.Status.MarkResourceCreateFailed(kind, name, err.Error())
	}
	return fmt.Errorf("creating %s %s: %w", kind, name, err)
}

func updateFailed(rev *v1.Revision, kind, name string, err error) error {
	if !asksForRetry(err) {
		rev.Status.MarkResourceUpdateFailed(kind, name, err.Error())
	}
	return fmt.Errorf("updating %s %s: %w", kind, name, err)
}

// asksForRetry reports whether err says nothing about the object, only
// that the same write may succeed soon: a conflict with a newer version
// or a lister behind the API server (the retry reads again), throttling
// and timeouts. Reporting those would flip a Ready Revision to False for
// a moment.
func asksForRetry(err error) bool {
	return apierrs.IsConflict(err) || apierrs.IsAlreadyExists(err) || apierrs.IsTooManyRequests(err) ||
		apierrs.IsServerTimeout(err) || apierrs.IsTimeout(err)
}

func (r *Reconciler) notOwned(rev *v1.Revision, kind, name string) error {
	msg := fmt.Sprintf("There is an existing %s %q that we do not own.", kind, name)
	rev.Status.MarkResourcesAvailableFalse(ReasonNotOwned, msg)
	return controller.NewPermanentError(fmt.Errorf("revision %s: %s", rev.Name, msg))
}
