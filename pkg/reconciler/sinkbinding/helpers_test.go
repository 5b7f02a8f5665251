package sinkbinding

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clientgotesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	fakedynamicclient "knative.dev/pkg/injection/clients/dynamicclient/fake"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
	"flywheel.dev/pkg/sources"
)

const (
	testNamespace = "shop"
	testBinding   = "bind"
	// sinkURL is where newBinding's sink points.
	sinkURL = "http://events.example.com/shop"
)

var (
	deployments  = appsv1.SchemeGroupVersion.WithResource("deployments")
	statefulSets = appsv1.SchemeGroupVersion.WithResource("statefulsets")
	daemonSets   = appsv1.SchemeGroupVersion.WithResource("daemonsets")
	jobsV1       = batchv1.SchemeGroupVersion.WithResource("jobs")
	cronJobsV1   = batchv1.SchemeGroupVersion.WithResource("cronjobs")
	ksvcs        = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	// widgets are of a kind no API server serves.
	widgets = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

// BindingOption changes a test SinkBinding.
type BindingOption func(*sourcesv1.SinkBinding)

// newBinding is a SinkBinding, as the webhook stores it, of the
// Deployment "app" to sinkURL, then opts.
func newBinding(opts ...BindingOption) *sourcesv1.SinkBinding {
	sb := &sourcesv1.SinkBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testBinding, UID: "5d9e7c1a-0b9f-4c1e-8f0e-3a2b1c4d5e6f", Generation: 1},
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec: duckv1.SourceSpec{Sink: duckv1.Destination{URI: mustParseURL(sinkURL)}},
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
				APIVersion: "apps/v1", Kind: "Deployment", Namespace: testNamespace, Name: "app",
			}},
		},
	}
	for _, opt := range opts {
		opt(sb)
	}
	return sb
}

// WithSubject makes the binding's subject the named object of a kind.
func WithSubject(apiVersion, kind, name string) BindingOption {
	return func(sb *sourcesv1.SinkBinding) {
		sb.Spec.Subject = tracker.Reference{APIVersion: apiVersion, Kind: kind, Namespace: testNamespace, Name: name}
	}
}

// WithSubjectSelector makes the binding's subjects the Deployments with
// these labels.
func WithSubjectSelector(labels map[string]string) BindingOption {
	return func(sb *sourcesv1.SinkBinding) {
		sb.Spec.Subject = tracker.Reference{
			APIVersion: "apps/v1", Kind: "Deployment", Namespace: testNamespace,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
		}
	}
}

// WithSink sets the binding's sink.
func WithSink(dest duckv1.Destination) BindingOption {
	return func(sb *sourcesv1.SinkBinding) { sb.Spec.Sink = dest }
}

// WithOverrides sets the binding's CloudEvents extensions.
func WithOverrides(extensions map[string]string) BindingOption {
	return func(sb *sourcesv1.SinkBinding) {
		sb.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: extensions}
	}
}

// refTo is a destination that refers to an object in the test namespace.
func refTo(apiVersion, kind, name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: apiVersion, Kind: kind, Namespace: testNamespace, Name: name}}
}

func mustParseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

// podSpec is a pod spec whose init containers and containers are named,
// each with the variables env.
func podSpec(initContainers, containers []string, env ...corev1.EnvVar) corev1.PodSpec {
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}
	for _, name := range initContainers {
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: name, Image: "ko://example.com/" + name, Env: env})
	}
	for _, name := range containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: name, Image: "ko://example.com/" + name, Env: env})
	}
	return spec
}

func objectMeta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: testNamespace, Name: name, Labels: labels}
}

func deployment(name string, labels map[string]string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(name, labels),
		Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

func statefulSet(name string, spec corev1.PodSpec) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: objectMeta(name, nil),
		Spec:       appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

func daemonSet(name string, spec corev1.PodSpec) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: objectMeta(name, nil),
		Spec:       appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

func job(name string, spec corev1.PodSpec) *batchv1.Job {
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: objectMeta(name, nil),
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
}

func cronJob(name string, spec corev1.PodSpec) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: objectMeta(name, nil),
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
		}},
	}
}

// knativeService is a Knative Service as the dynamic client sees it,
// with a revision template of spec and, when url is not empty, an
// address.
func knativeService(name, url string, spec corev1.PodSpec) *unstructured.Unstructured {
	podSpec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&spec)
	if err != nil {
		panic(err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   map[string]any{"namespace": testNamespace, "name": name},
		"spec":       map[string]any{"template": map[string]any{"spec": podSpec}},
	}}
	if url != "" {
		u.Object["status"] = map[string]any{"address": map[string]any{"url": url}}
	}
	return u
}

func namespace(labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: testNamespace, Labels: labels},
	}
}

// world is what a reconciliation runs against: the sinks the resolver
// sees and the subjects the binder reads and patches, each through a fake
// dynamic client.
type world struct {
	ctx      context.Context
	sinks    *dynamicfake.FakeDynamicClient
	subjects *dynamicfake.FakeDynamicClient
	r        *Reconciler
}

// newWorld builds a Reconciler over sinks and subjects (the test
// namespace is always there), with the reactors run before the fake
// client's own.
func newWorld(t *testing.T, sinks []runtime.Object, subjects []runtime.Object, reactors ...clientgotesting.ReactionFunc) *world {
	t.Helper()
	ctx, uriResolver := fwtesting.NewURIResolver(t, sinks...)
	subjectClients := newSubjectClient(namespace(nil), subjects...)
	for _, reactor := range reactors {
		subjectClients.PrependReactor("*", "*", reactor)
	}
	// The tracker would enqueue the binding when a subject changes;
	// nothing runs a queue here.
	track := tracker.New(func(types.NamespacedName) {}, time.Minute)
	return &world{
		ctx:      ctx,
		sinks:    fakedynamicclient.Get(ctx),
		subjects: subjectClients,
		r:        &Reconciler{resolver: uriResolver, binder: newBinder(ctx, subjectClient{subjectClients}, track)},
	}
}

// newSubjectClient is a fake dynamic client holding ns and subjects, as
// unstructured objects, which its watches then send, as the API server's
// do.
func newSubjectClient(ns *corev1.Namespace, subjects ...runtime.Object) *dynamicfake.FakeDynamicClient {
	var objs []runtime.Object
	for _, o := range append([]runtime.Object{ns}, subjects...) {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			if err != nil {
				panic(err)
			}
			u = &unstructured.Unstructured{Object: obj}
		}
		objs = append(objs, u)
	}
	listKinds := map[schema.GroupVersionResource]string{
		corev1.SchemeGroupVersion.WithResource("namespaces"): "NamespaceList",
		deployments: "DeploymentList", statefulSets: "StatefulSetList", daemonSets: "DaemonSetList",
		jobsV1: "JobList", cronJobsV1: "CronJobList", ksvcs: "ServiceList", widgets: "WidgetList",
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
}

// podSpecOf reads the pod template of a subject as it stands, where its
// kind keeps it.
func (w *world) podSpecOf(t *testing.T, gvr schema.GroupVersionResource, name string) corev1.PodSpec {
	t.Helper()
	u, err := w.subjects.Resource(gvr).Namespace(testNamespace).Get(w.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting %s %s: %v", gvr.Resource, name, err)
	}
	path := []string{"spec", "template", "spec"}
	if gvr == cronJobsV1 {
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	raw, _, err := unstructured.NestedMap(u.Object, path...)
	if err != nil {
		t.Fatalf("reading the pod template of %s %s: %v", gvr.Resource, name, err)
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

// patched lists the objects the binder patched or tried to, as
// resource/name, sorted.
func (w *world) patched() []string {
	var got []string
	for _, a := range w.subjects.Actions() {
		if p, ok := a.(clientgotesting.PatchAction); ok {
			got = append(got, a.GetResource().Resource+"/"+p.GetName())
		}
	}
	slices.Sort(got)
	return got
}

// The binding's variables, as the subjects should carry them.
var (
	sinkEnv    = corev1.EnvVar{Name: sources.SinkEnv, Value: sinkURL}
	oldSinkEnv = corev1.EnvVar{Name: sources.SinkEnv, Value: "http://old.example.com"}
	appEnv     = corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}
)

// The shared helpers, under the names these tests use.
type cond = fwtesting.Cond

var (
	isTrue       = fwtesting.IsTrue
	isFalse      = fwtesting.IsFalse
	conditionsOf = fwtesting.ConditionsOf
	sortConds    = fwtesting.SortConds
	outcome      = fwtesting.Outcome
)
