package containersource

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	appsv1listers "k8s.io/client-go/listers/apps/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	clientset "flywheel.dev/pkg/client/clientset/versioned"
	containersourcereconciler "flywheel.dev/pkg/client/injection/reconciler/sources/v1/containersource"
	sourceslisters "flywheel.dev/pkg/client/listers/sources/v1"
	"flywheel.dev/pkg/reconciler/childmeta"
	"flywheel.dev/pkg/reconciler/containersource/resources"
	"flywheel.dev/pkg/sources"
)

// Reasons of the ContainerSource's conditions and events.
const (
	// ReasonNotOwned says an object the source needs exists under its
	// name but belongs to someone else.
	ReasonNotOwned = "NotOwned"
	// ReasonCreateFailed and ReasonUpdateFailed say the API server
	// refused to write one of the source's objects.
	ReasonCreateFailed = "CreateFailed"
	ReasonUpdateFailed = "UpdateFailed"
	// ReasonWaitingForSink says the Deployment waits for the SinkBinding
	// to resolve the sink.
	ReasonWaitingForSink = "WaitingForSink"
	// ReasonCreated and ReasonUpdated are events on the source for its
	// objects.
	ReasonCreated = "Created"
	ReasonUpdated = "Updated"
)

// Reconciler keeps a ContainerSource's Deployment and SinkBinding in line
// with it, and reports on them.
type Reconciler struct {
	kube              kubernetes.Interface
	client            clientset.Interface
	deploymentLister  appsv1listers.DeploymentLister
	sinkBindingLister sourceslisters.SinkBindingLister
}

var _ containersourcereconciler.Interface = (*Reconciler)(nil)

// ReconcileKind implements containersourcereconciler.Interface. The
// SinkBinding comes first, and the Deployment once the binding knows the
// sink, so that the Deployment's pods start bound.
func (r *Reconciler) ReconcileKind(ctx context.Context, source *sourcesv1.ContainerSource) reconciler.Event {
	source.Status.InitializeConditions()
	sb, err := r.reconcileSinkBinding(ctx, source)
	if err != nil {
		return err
	}
	source.Status.PropagateSinkBindingStatus(&sb.Status)
	d, err := r.reconcileDeployment(ctx, source, sb)
	if err != nil || d == nil {
		return err
	}
	source.Status.PropagateReceiveAdapterStatus(d)
	return nil
}

func (r *Reconciler) reconcileSinkBinding(ctx context.Context, source *sourcesv1.ContainerSource) (*sourcesv1.SinkBinding, error) {
	const condition = sourcesv1.ContainerSourceConditionSinkBindingReady
	want := resources.MakeSinkBinding(source)
	have, err := r.sinkBindingLister.SinkBindings(source.Namespace).Get(want.Name)
	switch {
	case apierrs.IsNotFound(err):
		created, err := r.client.SourcesV1().SinkBindings(source.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, writeFailed(source, condition, ReasonCreateFailed, "SinkBinding", want.Name, err)
		}
		controller.GetEventRecorder(ctx).Eventf(source, corev1.EventTypeNormal, ReasonCreated, "Created SinkBinding %q", want.Name)
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("getting SinkBinding %s: %w", want.Name, err)
	case !metav1.IsControlledBy(have, source):
		return nil, notOwned(source, condition, "SinkBinding", want.Name)
	}
	if equality.Semantic.DeepEqual(want.Spec, have.Spec) && childmeta.Carries(want.ObjectMeta, have.ObjectMeta) {
		return have, nil
	}
	update := have.DeepCopy()
	update.Spec = want.Spec
	childmeta.Merge(&update.ObjectMeta, want.ObjectMeta)
	updated, err := r.client.SourcesV1().SinkBindings(source.Namespace).Update(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, writeFailed(source, condition, ReasonUpdateFailed, "SinkBinding", want.Name, err)
	}
	controller.GetEventRecorder(ctx).Eventf(source, corev1.EventTypeNormal, ReasonUpdated, "Updated SinkBinding %q", want.Name)
	return updated, nil
}

// reconcileDeployment creates or updates the Deployment; nil while it
// waits for the SinkBinding's sink. K_SINK and K_CE_OVERRIDES in its
// containers are the SinkBinding's to keep: a new Deployment gets them
// from the binding, and an update keeps those the binding set, so that
// the source's change and the binding's do not undo each other (each
// undoing would roll the pods out).
func (r *Reconciler) reconcileDeployment(ctx context.Context, source *sourcesv1.ContainerSource, sb *sourcesv1.SinkBinding) (*appsv1.Deployment, error) {
	const condition = sourcesv1.ContainerSourceConditionReceiveAdapterReady
	want, err := resources.MakeDeployment(source)
	if err != nil {
		return nil, fmt.Errorf("making the Deployment of ContainerSource %s/%s: %w", source.Namespace, source.Name, err)
	}
	have, err := r.deploymentLister.Deployments(source.Namespace).Get(want.Name)
	switch {
	case apierrs.IsNotFound(err) && sb.Status.SinkURI == nil:
		// Pods started now would start without K_SINK, fail, and be
		// replaced once the binding knows the sink; the binding's status
		// changing brings the source back here.
		conditions(source).MarkUnknown(condition, ReasonWaitingForSink,
			"The Deployment is made once the SinkBinding %q has resolved the sink, so that its pods start with K_SINK.", sb.Name)
		return nil, nil
	case apierrs.IsNotFound(err):
		pods := &duckv1.WithPod{Spec: duckv1.WithPodSpec{Template: duckv1.PodSpecable(want.Spec.Template)}}
		sb.Do(ctx, pods)
		want.Spec.Template = corev1.PodTemplateSpec(pods.Spec.Template)
		created, err := r.kube.AppsV1().Deployments(source.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, writeFailed(source, condition, ReasonCreateFailed, "Deployment", want.Name, err)
		}
		controller.GetEventRecorder(ctx).Eventf(source, corev1.EventTypeNormal, ReasonCreated, "Created Deployment %q", want.Name)
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("getting Deployment %s: %w", want.Name, err)
	case !metav1.IsControlledBy(have, source):
		return nil, notOwned(source, condition, "Deployment", want.Name)
	}
	// Scaling the Deployment is left to whoever scales it.
	want.Spec.Replicas = have.Spec.Replicas
	keepBindingEnv(&want.Spec.Template.Spec, &have.Spec.Template.Spec)
	// The spec hash among the annotations catches a change to the source
	// (a field removed included); DeepDerivative a change made to the
	// Deployment behind the source's back.
	if childmeta.Carries(want.ObjectMeta, have.ObjectMeta) && equality.Semantic.DeepDerivative(want.Spec, have.Spec) {
		return have, nil
	}
	update := have.DeepCopy()
	update.Spec = want.Spec
	childmeta.Merge(&update.ObjectMeta, want.ObjectMeta)
	updated, err := r.kube.AppsV1().Deployments(source.Namespace).Update(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, writeFailed(source, condition, ReasonUpdateFailed, "Deployment", want.Name, err)
	}
	controller.GetEventRecorder(ctx).Eventf(source, corev1.EventTypeNormal, ReasonUpdated, "Updated Deployment %q", want.Name)
	return updated, nil
}

// bindingEnv are the variables the SinkBinding sets.
var bindingEnv = []string{sources.SinkEnv, sources.CEOverridesEnv}

// keepBindingEnv gives each container of want the binding's variables
// that the container of the same name has in have, in place of those of
// that name it has itself.
func keepBindingEnv(want, have *corev1.PodSpec) {
	bound := map[string][]corev1.EnvVar{}
	for _, cs := range [][]corev1.Container{have.InitContainers, have.Containers} {
		for _, c := range cs {
			for _, e := range c.Env {
				for _, name := range bindingEnv {
					if e.Name == name {
						bound[c.Name] = append(bound[c.Name], e)
					}
				}
			}
		}
	}
	for _, cs := range [][]corev1.Container{want.InitContainers, want.Containers} {
		for i := range cs {
			for _, e := range bound[cs[i].Name] {
				cs[i].Env = setEnv(cs[i].Env, e)
			}
		}
	}
}

// setEnv returns env with v in place of the first variable of its name,
// or appended.
func setEnv(env []corev1.EnvVar, v corev1.EnvVar) []corev1.EnvVar {
	for i := range env {
		if env[i].Name == v.Name {
			env[i] = v
			return env
		}
	}
	return append(env, v)
}

// writeFailed reports a refused write of one of the source's objects on
// condition t. Unless the error only asks to try again, the API server's
// message (which names the field at fault) turns the condition False; a
// refusal of the object as invalid is not retried, since only a change to
// the source can fix it, and that change reconciles the source again.
func writeFailed(source *sourcesv1.ContainerSource, t apis.ConditionType, reason, kind, name string, err error) error {
	verb := "creating"
	if reason == ReasonUpdateFailed {
		verb = "updating"
	}
	wrapped := fmt.Errorf("%s %s %s: %w", verb, kind, name, err)
	if asksForRetry(err) {
		return wrapped
	}
	conditions(source).MarkFalse(t, reason, "The API server refused %s %s %q: %v. Correct the ContainerSource's spec.", verb, kind, name, err)
	if apierrs.IsInvalid(err) {
		return controller.NewPermanentError(wrapped)
	}
	return wrapped
}

// asksForRetry reports whether err says nothing about the object, only
// that the same write may succeed soon.
func asksForRetry(err error) bool {
	return apierrs.IsConflict(err) || apierrs.IsAlreadyExists(err) || apierrs.IsTooManyRequests(err) ||
		apierrs.IsServerTimeout(err) || apierrs.IsTimeout(err)
}

func notOwned(source *sourcesv1.ContainerSource, t apis.ConditionType, kind, name string) error {
	msg := fmt.Sprintf("There is an existing %s %q that the ContainerSource does not own: delete it, or rename the ContainerSource.", kind, name)
	conditions(source).MarkFalse(t, ReasonNotOwned, "%s", msg)
	return controller.NewPermanentError(fmt.Errorf("ContainerSource %s/%s: %s", source.Namespace, source.Name, msg))
}

// conditions is the source's condition manager, for the failures its
// lifecycle has no Mark… method for.
func conditions(source *sourcesv1.ContainerSource) apis.ConditionManager {
	return source.GetConditionSet().Manage(&source.Status)
}
