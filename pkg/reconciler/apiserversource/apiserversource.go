package apiserversource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	apiserversourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/apiserversource"
	"flywheel.dev/pkg/reconciler/apiserversource/resources"
	"flywheel.dev/pkg/sources/apiserver"
)

// Reasons the reconciler gives on the source's conditions and events.
const (
	// ReasonInsufficientPermissions says the service account may not get,
	// list or watch something the source watches.
	ReasonInsufficientPermissions = "InsufficientPermissions"
	// ReasonKindNotServed says the API server serves no kind a resource
	// of the source names.
	ReasonKindNotServed = "KindNotServed"
	// ReasonNotOwned says the adapter's Deployment exists under the
	// source's name but is not the source's.
	ReasonNotOwned = "NotOwned"
	// ReasonDeploymentCreated and ReasonDeploymentUpdated are the events
	// of writes to the adapter's Deployment; ReasonDeploymentFailed is
	// Deployed's reason when the API refused one.
	ReasonDeploymentCreated = "DeploymentCreated"
	ReasonDeploymentUpdated = "DeploymentUpdated"
	ReasonDeploymentFailed  = "DeploymentFailed"
)

// recheckPeriod is how often a source that cannot run yet (its account
// lacks a permission, or a kind it names is not served) is looked at
// again: no informer reports RBAC or CRD changes to this reconciler, so
// a grant or a CRD install is noticed within this period.
const recheckPeriod = 30 * time.Second

// Reconciler keeps an ApiServerSource's adapter Deployment and status.
type Reconciler struct {
	kube             kubernetes.Interface
	deploymentLister appsv1listers.DeploymentLister
	namespaceLister  corev1listers.NamespaceLister
	// mapper finds the resource and scope of a kind; it is reset when a
	// kind is missing, which may be a CRD installed since it last read
	// the API server's discovery.
	mapper      meta.ResettableRESTMapper
	access      AccessReviewer
	uriResolver *resolver.URIResolver
	// adapterImage runs every adapter; ceSource is the source attribute
	// of their events, the API server's URL.
	adapterImage string
	ceSource     string
}

var _ apiserversourcereconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements apiserversourcereconciler.Interface. It reports
// every problem it finds (sink, kinds, permissions) before it stops, and
// runs no adapter until all are solved: an adapter whose account may not
// watch would only retry refused watches. An adapter that already runs is
// left as it is meanwhile.
func (r *Reconciler) ReconcileKind(ctx context.Context, src *sourcesv1.ApiServerSource) reconciler.Event {
	src.Status.InitializeConditions()
	src.Status.CloudEventAttributes = resources.CloudEventAttributes(src, r.ceSource)

	sink, err := r.uriResolver.URIFromDestinationV1(ctx, src.Spec.Sink, src)
	if err != nil {
		// The resolver tracks what the sink refers to: a change to it
		// brings the source back here.
		src.Status.MarkNoSink(sourcesv1.ReasonSinkNotResolved, "The sink does not resolve: %v", err)
	} else {
		src.Status.MarkSink(sink)
	}

	resolved, err := r.resolveResources(src)
	var notServed *kindNotServedError
	if errors.As(err, &notServed) {
		src.Status.MarkNoSufficientPermissions(ReasonKindNotServed, "%s", notServed.Error())
		return controller.NewRequeueAfter(recheckPeriod)
	}
	if err != nil {
		return err
	}
	scope, err := r.scope(src)
	if err != nil {
		return err
	}
	src.Status.Namespaces = scope.Namespaces
	if scope.All {
		// Every namespace, now and later, with one watch: a namespace
		// made later must not change the adapter's Deployment.
		scope.Namespaces = nil
	}
	cfg := resources.MakeAdapterConfig(src, resolved, scope, r.ceSource)

	account := types.NamespacedName{Namespace: src.Namespace, Name: resources.ServiceAccount(src)}
	missing, err := missingAccess(ctx, r.access, account, cfg)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		src.Status.MarkNoSufficientPermissions(ReasonInsufficientPermissions, "%s",
			describeMissing(types.NamespacedName{Namespace: src.Namespace, Name: src.Name}, account, missing))
		return controller.NewRequeueAfter(recheckPeriod)
	}
	src.Status.MarkSufficientPermissions()

	if sink == nil {
		return nil
	}
	d, err := r.reconcileDeployment(ctx, src, resources.DeploymentArgs{Image: r.adapterImage, Sink: sink.String(), Config: cfg})
	if err != nil {
		return err
	}
	src.Status.PropagateDeploymentAvailability(d)
	return nil
}

// kindNotServedError says the API server serves no kind a resource of the
// source names.
type kindNotServedError struct {
	index      int
	apiVersion string
	kind       string
}

func (e *kindNotServedError) Error() string {
	return fmt.Sprintf("spec.resources[%d]: the API server serves no kind %s in %s. Check apiVersion and kind (kubectl api-resources lists what it serves), or install the CustomResourceDefinition that defines it.",
		e.index, e.kind, e.apiVersion)
}

// resolveResources maps each of spec.resources to the resource and scope
// the API server serves its kind as, with its label selector in the API
// server's syntax.
func (r *Reconciler) resolveResources(src *sourcesv1.ApiServerSource) ([]apiserver.Resource, error) {
	resolved := make([]apiserver.Resource, 0, len(src.Spec.Resources))
	for i, want := range src.Spec.Resources {
		gv, err := schema.ParseGroupVersion(want.APIVersion)
		if err != nil {
			// The webhook refuses such an apiVersion.
			return nil, controller.NewPermanentError(fmt.Errorf("spec.resources[%d].apiVersion: %w", i, err))
		}
		gk := schema.GroupKind{Group: gv.Group, Kind: want.Kind}
		mapping, err := r.mapper.RESTMapping(gk, gv.Version)
		if meta.IsNoMatchError(err) {
			// Perhaps a CRD installed since discovery was last read.
			r.mapper.Reset()
			mapping, err = r.mapper.RESTMapping(gk, gv.Version)
		}
		if meta.IsNoMatchError(err) {
			return nil, &kindNotServedError{index: i, apiVersion: want.APIVersion, kind: want.Kind}
		}
		if err != nil {
			return nil, fmt.Errorf("finding the resource of kind %s in %s: %w", want.Kind, want.APIVersion, err)
		}
		var selector string
		if want.Selector != nil {
			s, err := metav1.LabelSelectorAsSelector(want.Selector)
			if err != nil {
				return nil, controller.NewPermanentError(fmt.Errorf("spec.resources[%d].selector: %w", i, err))
			}
			selector = s.String()
		}
		resolved = append(resolved, apiserver.Resource{
			Group:         mapping.Resource.Group,
			Version:       mapping.Resource.Version,
			Resource:      mapping.Resource.Resource,
			Kind:          mapping.GroupVersionKind.Kind,
			Namespaced:    mapping.Scope.Name() == meta.RESTScopeNameNamespace,
			LabelSelector: selector,
		})
	}
	return resolved, nil
}

// scope is where src watches its namespaced kinds: its own namespace,
// or, with a namespace selector, every namespace that matches (an empty
// selector: every namespace, as one watch across the cluster), listed in
// order.
func (r *Reconciler) scope(src *sourcesv1.ApiServerSource) (resources.Scope, error) {
	if src.Spec.NamespaceSelector == nil {
		return resources.Scope{Namespaces: []string{src.Namespace}}, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(src.Spec.NamespaceSelector)
	if err != nil {
		// The webhook refuses such a selector.
		return resources.Scope{}, controller.NewPermanentError(fmt.Errorf("spec.namespaceSelector: %w", err))
	}
	matched, err := r.namespaceLister.List(selector)
	if err != nil {
		return resources.Scope{}, fmt.Errorf("listing namespaces: %w", err)
	}
	names := make([]string, 0, len(matched))
	for _, ns := range matched {
		names = append(names, ns.Name)
	}
	slices.Sort(names)
	return resources.Scope{All: selector.Empty(), Namespaces: names}, nil
}

// reconcileDeployment creates or updates the adapter's Deployment.
func (r *Reconciler) reconcileDeployment(ctx context.Context, src *sourcesv1.ApiServerSource, args resources.DeploymentArgs) (*appsv1.Deployment, error) {
	want, err := resources.MakeDeployment(src, args)
	if err != nil {
		return nil, controller.NewPermanentError(err)
	}
	recorder := controller.GetEventRecorder(ctx)
	have, err := r.deploymentLister.Deployments(src.Namespace).Get(want.Name)
	switch {
	case apierrs.IsNotFound(err):
		created, err := r.kube.AppsV1().Deployments(src.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, writeFailed(src, "create", "creating", want.Name, err)
		}
		recorder.Eventf(src, corev1.EventTypeNormal, ReasonDeploymentCreated, "Created Deployment %q", want.Name)
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("getting Deployment %s: %w", want.Name, err)
	case !metav1.IsControlledBy(have, src):
		msg := fmt.Sprintf("There is an existing Deployment %q that this source does not own: rename or delete it.", want.Name)
		src.Status.MarkNotDeployed(ReasonNotOwned, "%s", msg)
		return nil, controller.NewPermanentError(errors.New(msg))
	}
	if !deploymentChanged(want, have) {
		return have, nil
	}
	update := have.DeepCopy()
	update.Spec = want.Spec
	for k, v := range want.Labels {
		if update.Labels == nil {
			update.Labels = map[string]string{}
		}
		update.Labels[k] = v
	}
	updated, err := r.kube.AppsV1().Deployments(src.Namespace).Update(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, writeFailed(src, "update", "updating", want.Name, err)
	}
	recorder.Eventf(src, corev1.EventTypeNormal, ReasonDeploymentUpdated, "Updated Deployment %q", want.Name)
	return updated, nil
}

// deploymentChanged reports whether have differs from want in what the
// reconciler sets. The API server's defaults in have count as equal; the
// container's environment is compared whole, so that a variable the
// reconciler no longer sets (ceOverrides removed) is removed.
func deploymentChanged(want, have *appsv1.Deployment) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return true
		}
	}
	if !equality.Semantic.DeepDerivative(want.Spec, have.Spec) {
		return true
	}
	wantC, haveC := want.Spec.Template.Spec.Containers, have.Spec.Template.Spec.Containers
	return len(wantC) != len(haveC) || !equality.Semantic.DeepEqual(wantC[0].Env, haveC[0].Env)
}

// writeFailed reports a refused write of the adapter's Deployment: unless
// the error only asks to try again, the API server's message turns
// Deployed, and so Ready, False. The error is returned either way, so the
// write is retried with back-off (a quota may free up, a policy change).
func writeFailed(src *sourcesv1.ApiServerSource, verb, doing, name string, err error) error {
	if !asksForRetry(err) {
		src.Status.MarkNotDeployed(ReasonDeploymentFailed, "The API server refused to %s the adapter's Deployment %q: %v", verb, name, err)
	}
	return fmt.Errorf("%s Deployment %s: %w", doing, name, err)
}

// asksForRetry reports whether err says nothing about the Deployment,
// only that the same write may succeed soon: a conflict with a newer
// version or a lister behind the API server, throttling and timeouts.
// Reporting those would flip a Ready source to False for a moment.
func asksForRetry(err error) bool {
	return apierrs.IsConflict(err) || apierrs.IsAlreadyExists(err) || apierrs.IsTooManyRequests(err) ||
		apierrs.IsServerTimeout(err) || apierrs.IsTimeout(err)
}
