package sinkbinding

import (
	"context"
	"fmt"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/watchlist"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

var (
	cronJobs = schema.GroupResource{Group: "batch", Resource: "cronjobs"}
	jobs     = schema.GroupResource{Group: "batch", Resource: "jobs"}
)

// subjectClient is the dynamic client the binder reads and patches
// subjects with. Every subject is read as a duckv1.WithPod, whose pod
// template is at spec.template, and patched with the difference Do or
// Undo made to it; two kinds need more:
//
//   - a CronJob is read with its job's pod template shown at
//     spec.template, and the patches made of that are moved to
//     spec.jobTemplate.spec.template (sourcesv1.CronJobAsPodSpecable);
//   - a Job's pod template cannot change once the Job exists, and the API
//     server's refusal to patch one is turned into a message that says so
//     and what to do.
type subjectClient struct {
	dynamic.Interface
}

// Resource implements dynamic.Interface.
func (c subjectClient) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	ri := c.Interface.Resource(gvr)
	switch gvr.GroupResource() {
	case cronJobs:
		return cronJobResource{ri}
	case jobs:
		return jobResource{ri}
	}
	return ri
}

// IsWatchListSemanticsUnSupported passes on what the wrapped client says
// of streamed lists, which informers ask of the client they watch with.
func (c subjectClient) IsWatchListSemanticsUnSupported() bool {
	return watchlist.DoesClientNotSupportWatchListSemantics(c.Interface)
}

// cronJobResource shows CronJobs as PodSpecables; see subjectClient.
type cronJobResource struct {
	dynamic.NamespaceableResourceInterface
}

func (r cronJobResource) Namespace(ns string) dynamic.ResourceInterface {
	return namespacedCronJobResource{r.NamespaceableResourceInterface.Namespace(ns)}
}

func (r cronJobResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return showCronJobs(r.NamespaceableResourceInterface.List(ctx, opts))
}

func (r cronJobResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return showCronJobEvents(r.NamespaceableResourceInterface.Watch(ctx, opts))
}

type namespacedCronJobResource struct {
	dynamic.ResourceInterface
}

func (r namespacedCronJobResource) Get(ctx context.Context, name string, opts metav1.GetOptions, subresources ...string) (*unstructured.Unstructured, error) {
	return showCronJob(r.ResourceInterface.Get(ctx, name, opts, subresources...))
}

func (r namespacedCronJobResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return showCronJobs(r.ResourceInterface.List(ctx, opts))
}

func (r namespacedCronJobResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return showCronJobEvents(r.ResourceInterface.Watch(ctx, opts))
}

// Patch moves a JSON patch of the CronJob as a PodSpecable to its job
// template; the other kinds of patch are not made against the view, and
// pass unchanged.
func (r namespacedCronJobResource) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*unstructured.Unstructured, error) {
	if pt == types.JSONPatchType {
		moved, err := sourcesv1.CronJobPatch(data)
		if err != nil {
			return nil, err
		}
		data = moved
	}
	return showCronJob(r.ResourceInterface.Patch(ctx, name, pt, data, opts, subresources...))
}

func showCronJob(u *unstructured.Unstructured, err error) (*unstructured.Unstructured, error) {
	if err != nil {
		return nil, err
	}
	if _, err := sourcesv1.CronJobAsPodSpecable(u.Object); err != nil {
		return nil, fmt.Errorf("reading CronJob %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return u, nil
}

func showCronJobs(l *unstructured.UnstructuredList, err error) (*unstructured.UnstructuredList, error) {
	if err != nil {
		return nil, err
	}
	for i := range l.Items {
		if _, err := showCronJob(&l.Items[i], nil); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func showCronJobEvents(w watch.Interface, err error) (watch.Interface, error) {
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		if u, ok := e.Object.(*unstructured.Unstructured); ok {
			// A CronJob whose template does not read as an object is
			// passed on as it is: it has nothing to bind.
			_, _ = sourcesv1.CronJobAsPodSpecable(u.Object)
		}
		return e, true
	}), nil
}

// jobResource explains the API server's refusal to change a Job's pod
// template; see subjectClient.
type jobResource struct {
	dynamic.NamespaceableResourceInterface
}

func (r jobResource) Namespace(ns string) dynamic.ResourceInterface {
	return namespacedJobResource{r.NamespaceableResourceInterface.Namespace(ns)}
}

type namespacedJobResource struct {
	dynamic.ResourceInterface
}

func (r namespacedJobResource) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*unstructured.Unstructured, error) {
	u, err := r.ResourceInterface.Patch(ctx, name, pt, data, opts, subresources...)
	if apierrs.IsInvalid(err) {
		return nil, &immutableJobError{name: name, err: err}
	}
	return u, err
}

// immutableJobError is the API server's refusal to change the pod
// template of a Job that exists. It unwraps to the refusal, so that
// apierrs.IsInvalid still recognises it.
type immutableJobError struct {
	name string
	err  error
}

func (e *immutableJobError) Error() string {
	return fmt.Sprintf("Job %q existed before the binding, and a Job's pod template cannot change once the Job is created: "+
		"delete the Job and create it again to bind it, or make the CronJob that creates it the subject (%v)", e.name, e.err)
}

func (e *immutableJobError) Unwrap() error { return e.err }
