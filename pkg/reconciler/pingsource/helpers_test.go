package pingsource

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
	"flywheel.dev/pkg/sources/ping"
)

const (
	testNamespace   = "shop"
	testSource      = "nightly"
	systemNamespace = "flywheel-system"
)

// SourceOption changes a test PingSource.
type SourceOption func(*sourcesv1.PingSource)

// newSource is testSource with a URL sink, as the API server stores it,
// then opts.
func newSource(opts ...SourceOption) *sourcesv1.PingSource {
	src := &sourcesv1.PingSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testSource, UID: "nightly-uid", Generation: 1},
		Spec: sourcesv1.PingSourceSpec{
			Schedule:   sourcesv1.DefaultSchedule,
			SourceSpec: duckv1.SourceSpec{Sink: duckv1.Destination{URI: mustParseURL("http://display.example.com/events")}},
		},
	}
	for _, opt := range opts {
		opt(src)
	}
	return src
}

// WithSink sets the sink.
func WithSink(dest duckv1.Destination) SourceOption {
	return func(src *sourcesv1.PingSource) { src.Spec.Sink = dest }
}

// WithSinkURI is a source its reconciler resolved the sink of before.
func WithSinkURI(s string) SourceOption {
	return func(src *sourcesv1.PingSource) { src.Status.SinkURI = mustParseURL(s) }
}

// DeploymentOption changes the adapter's test Deployment.
type DeploymentOption func(*appsv1.Deployment)

// adapterDeployment is the adapter's Deployment in the system namespace,
// then opts.
func adapterDeployment(opts ...DeploymentOption) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: ping.AdapterDeploymentName}}
	for _, opt := range opts {
		opt(d)
	}
	return d
}

// WithAvailable gives the Deployment an Available condition.
func WithAvailable(status corev1.ConditionStatus, reason string) DeploymentOption {
	return func(d *appsv1.Deployment) {
		d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{
			Type: appsv1.DeploymentAvailable, Status: status, Reason: reason, Message: "from the Deployment controller",
		})
	}
}

// InNamespace moves the Deployment.
func InNamespace(ns string) DeploymentOption {
	return func(d *appsv1.Deployment) { d.Namespace = ns }
}

func mustParseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

// refDestination is a destination given as a reference, with the
// namespace the webhook's defaults fill in.
func refDestination(apiVersion, kind, name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{
		APIVersion: apiVersion, Kind: kind, Namespace: testNamespace, Name: name,
	}}
}

// kubeService is a Kubernetes Service in the test namespace.
func kubeService(name string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
	}
}

// broker is a Broker in the test namespace with the given address (none
// when empty), as the dynamic client sees it.
func broker(name, url string) *unstructured.Unstructured {
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "eventing.knative.dev/v1",
		"kind":       "Broker",
		"metadata":   map[string]any{"namespace": testNamespace, "name": name},
	}}
	if url != "" {
		b.Object["status"] = map[string]any{"address": map[string]any{"url": url}}
	}
	return b
}

// The shared helpers, under the names these tests use.
type cond = fwtesting.Cond

var (
	isTrue       = fwtesting.IsTrue
	isFalse      = fwtesting.IsFalse
	isUnknown    = fwtesting.IsUnknown
	conditionsOf = fwtesting.ConditionsOf
	sortConds    = fwtesting.SortConds
	outcome      = fwtesting.Outcome
	newResolver  = fwtesting.NewURIResolver
)

func newIndexer[T runtime.Object](t *testing.T, objs ...T) cache.Indexer {
	t.Helper()
	return fwtesting.NewIndexer(t, objs...)
}
