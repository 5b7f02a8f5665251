package revision

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/reconciler/childmeta"
	"flywheel.dev/pkg/reconciler/revision/resources"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
)

// Reasons and messages of the ResourcesRecommended condition.
const (
	reasonNoServingContainer = "NoServingContainer"
	vpaNotInstalledMessage   = "Right-sizing advice needs the Vertical Pod Autoscaler's CRDs and recommender on the cluster " +
		"(docs/right-sizing.md); the Revision serves as usual without them."
	awaitingRecommendationMessage = "Waiting for the VPA recommender: it advises once it has the pods' CPU and memory usage " +
		"(about a minute in local mode, longer with the recommender's default interval)."
	noSamplesMessage = "Waiting for the VPA recommender's first usage samples: what it recommends before them is only its floor."
)

// samplesRecheck is how soon a Revision whose VPA recommends without
// having seen a sample looks again. The recommender writes its
// checkpoints after the recommendation in the same pass, and nothing
// else tells the controller when they arrive.
const samplesRecheck = 20 * time.Second

// vpaListerSource gives the lister of VerticalPodAutoscalers, or false
// while the cluster does not serve their API.
type vpaListerSource interface {
	Lister() (cache.GenericLister, bool)
}

// vpaWatch is the vpaListerSource of the running controller: an informer
// on VPAs, started only once their CRD is installed. An informer on an
// API the server does not serve would fail to list forever, and the
// controller must run the same on a cluster without the VPA.
type vpaWatch struct {
	lister atomic.Pointer[cache.GenericLister]
}

// Lister implements vpaListerSource.
func (w *vpaWatch) Lister() (cache.GenericLister, bool) {
	l := w.lister.Load()
	if l == nil {
		return nil, false
	}
	return *l, true
}

// run asks discovery every period whether the VPA's API is served. Once
// it is, it starts an informer on the VPAs of Revisions (those with the
// revision label), adds handler, waits for the cache, publishes the
// lister and calls installed, so that Revisions waiting for advice are
// reconciled again. It then stops asking: a CRD removed later leaves the
// informer retrying, as any informer does when its API goes away.
func (w *vpaWatch) run(ctx context.Context, disc discovery.DiscoveryInterface, dyn dynamic.Interface, period time.Duration,
	handler cache.ResourceEventHandler, installed func()) {
	logger := logging.FromContext(ctx)
	gvr := resources.VerticalPodAutoscalerGVR
	err := wait.PollUntilContextCancel(ctx, period, true, func(context.Context) (bool, error) {
		list, err := disc.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
		if err != nil {
			return false, nil // not served (yet), or discovery failed: ask again
		}
		for _, r := range list.APIResources {
			if r.Name == gvr.Resource {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return // the controller is stopping
	}
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, controller.DefaultResyncPeriod, metav1.NamespaceAll,
		func(o *metav1.ListOptions) { o.LabelSelector = serving.RevisionLabel.String() })
	informer := factory.ForResource(gvr)
	if _, err := informer.Informer().AddEventHandler(handler); err != nil {
		logger.Errorw("Watching VerticalPodAutoscalers", "error", err)
		return
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		return
	}
	lister := informer.Lister()
	w.lister.Store(&lister)
	logger.Info("The VerticalPodAutoscaler API is served: right-sizing advice is on for the Revisions that ask for it")
	installed()
}

// reconcileRightSizing keeps the Revision's VerticalPodAutoscaler, in Off
// mode, while right-sizing advice is on for it, and copies the
// recommendation onto its status. Nothing here fails the Revision: advice
// that cannot be had shows on the ResourcesRecommended condition only.
//
// It returns how soon to look again when only time will tell (see
// samplesRecheck), else 0.
func (r *Reconciler) reconcileRightSizing(ctx context.Context, rev *v1.Revision, cfg *Config) (time.Duration, error) {
	lister, installed := r.vpas.Lister()
	if autoscaling.RightSizingOf(cfg.Autoscaler, rev.Annotations) != config.RightSizingAdvise {
		rev.Status.ClearResourcesRecommendation()
		if installed {
			return 0, r.deleteVerticalPodAutoscaler(ctx, rev, lister)
		}
		return 0, nil
	}
	if !installed {
		rev.Status.MarkResourcesRecommendationUnavailable(v1.ReasonVPANotInstalled, vpaNotInstalledMessage)
		return 0, nil
	}
	want, err := resources.MakeVerticalPodAutoscaler(rev)
	if err != nil {
		rev.Status.MarkResourcesRecommendationUnavailable(reasonNoServingContainer, err.Error())
		return 0, nil
	}
	have, err := r.reconcileVerticalPodAutoscaler(ctx, rev, want, lister)
	if err != nil || have == nil {
		return 0, err
	}

	container := rev.Spec.ServingContainer().Name
	rec, why, err := resources.RecommendationOf(have, container)
	switch {
	case err != nil:
		return 0, err
	case rec != nil:
		// The recommender advises as soon as it tracks a pod, before any
		// usage sample: then its figures are only its floors, and
		// applying them would starve the app.
		samples, err := r.samplesLearnt(ctx, rev.Namespace, have.GetName(), container)
		if err != nil {
			return 0, err
		}
		if samples == 0 {
			rev.Status.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, noSamplesMessage)
			return samplesRecheck, nil
		}
		rev.Status.MarkResourcesRecommended(rec)
	case why != "":
		rev.Status.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, "The VPA recommender: "+why)
	default:
		rev.Status.MarkResourcesRecommendationPending(v1.ReasonAwaitingRecommendation, awaitingRecommendationMessage)
	}
	return 0, nil
}

// samplesLearnt reads how many usage samples of container the
// recommender has learnt from, from its checkpoint; 0 when it wrote none
// yet.
func (r *Reconciler) samplesLearnt(ctx context.Context, ns, vpaName, container string) (int64, error) {
	name := resources.VerticalPodAutoscalerCheckpointName(vpaName, container)
	checkpoint, err := r.dynamic.Resource(resources.VerticalPodAutoscalerCheckpointGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrs.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("getting VerticalPodAutoscalerCheckpoint %s: %w", name, err)
	}
	return resources.SamplesOf(checkpoint), nil
}

// reconcileVerticalPodAutoscaler creates or updates the Revision's VPA
// and returns it; nil, with the condition set, when it is someone else's.
func (r *Reconciler) reconcileVerticalPodAutoscaler(ctx context.Context, rev *v1.Revision, want *unstructured.Unstructured,
	lister cache.GenericLister) (*unstructured.Unstructured, error) {
	client := r.dynamic.Resource(resources.VerticalPodAutoscalerGVR).Namespace(rev.Namespace)
	var have *unstructured.Unstructured
	obj, err := lister.ByNamespace(rev.Namespace).Get(want.GetName())
	switch {
	case apierrs.IsNotFound(err):
		have, err = client.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			if !asksForRetry(err) {
				rev.Status.MarkResourcesRecommendationUnavailable(v1.ReasonCreateFailed,
					fmt.Sprintf("Failed to create VerticalPodAutoscaler %q: %v", want.GetName(), err))
			}
			return nil, fmt.Errorf("creating VerticalPodAutoscaler %s: %w", want.GetName(), err)
		}
		controller.GetEventRecorder(ctx).Eventf(rev, corev1.EventTypeNormal, ReasonCreated, "Created VerticalPodAutoscaler %q", want.GetName())
	case err != nil:
		return nil, fmt.Errorf("getting VerticalPodAutoscaler %s: %w", want.GetName(), err)
	default:
		var ok bool
		if have, ok = obj.(*unstructured.Unstructured); !ok {
			return nil, fmt.Errorf("VerticalPodAutoscaler %s is a %T", want.GetName(), obj)
		}
		if !metav1.IsControlledBy(have, rev) {
			rev.Status.MarkResourcesRecommendationUnavailable(ReasonNotOwned,
				fmt.Sprintf("There is an existing VerticalPodAutoscaler %q that we do not own.", want.GetName()))
			return nil, nil
		}
		wantSpec := resources.VerticalPodAutoscalerSpec(want)
		if !equality.Semantic.DeepDerivative(wantSpec, resources.VerticalPodAutoscalerSpec(have)) ||
			!childmeta.Carries(metaOf(want), metaOf(have)) {
			update := have.DeepCopy()
			update.Object["spec"] = wantSpec
			meta := metaOf(update)
			childmeta.Merge(&meta, metaOf(want))
			update.SetLabels(meta.Labels)
			if len(meta.Annotations) > 0 {
				update.SetAnnotations(meta.Annotations)
			}
			if have, err = client.Update(ctx, update, metav1.UpdateOptions{}); err != nil {
				return nil, fmt.Errorf("updating VerticalPodAutoscaler %s: %w", want.GetName(), err)
			}
		}
	}

	return have, nil
}

// deleteVerticalPodAutoscaler removes the Revision's VPA once advice is
// off for it (config-autoscaler's default changed): the recommender
// would otherwise go on tracking its pods for no one.
func (r *Reconciler) deleteVerticalPodAutoscaler(ctx context.Context, rev *v1.Revision, lister cache.GenericLister) error {
	name := names.VerticalPodAutoscaler(rev.Name)
	obj, err := lister.ByNamespace(rev.Namespace).Get(name)
	if apierrs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting VerticalPodAutoscaler %s: %w", name, err)
	}
	if have, ok := obj.(*unstructured.Unstructured); !ok || !metav1.IsControlledBy(have, rev) {
		return nil
	}
	err = r.dynamic.Resource(resources.VerticalPodAutoscalerGVR).Namespace(rev.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrs.IsNotFound(err) {
		return fmt.Errorf("deleting VerticalPodAutoscaler %s: %w", name, err)
	}
	return nil
}

// metaOf returns the labels and annotations of u as an ObjectMeta, for
// childmeta.
func metaOf(u *unstructured.Unstructured) metav1.ObjectMeta {
	return metav1.ObjectMeta{Labels: u.GetLabels(), Annotations: u.GetAnnotations()}
}
