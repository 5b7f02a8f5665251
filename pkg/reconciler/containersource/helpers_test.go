package containersource

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/reconciler/containersource/resources"
	"flywheel.dev/pkg/sources"
)

const (
	testNamespace = "shop"
	testSource    = "heartbeat"
	testKey       = testNamespace + "/" + testSource
	// brokerURL is where the source's Broker receives events.
	brokerURL = "http://broker-ingress.flywheel-system.svc.cluster.local/shop/default"
)

// SourceOption changes a test ContainerSource.
type SourceOption func(*sourcesv1.ContainerSource)

// newSource is a ContainerSource, as the webhook stores it, that runs a
// heartbeat container and sends to the Broker "default", then opts.
func newSource(opts ...SourceOption) *sourcesv1.ContainerSource {
	src := &sourcesv1.ContainerSource{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testNamespace, Name: testSource, UID: "8b0e4f3c-2a51-4c8e-9d0b-6f1e2a3b4c5d", Generation: 1,
			Labels: map[string]string{"team": "shop"},
		},
		Spec: sourcesv1.ContainerSourceSpec{
			SourceSpec: duckv1.SourceSpec{Sink: duckv1.Destination{Ref: &duckv1.KReference{
				APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "default",
			}}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Image: "ko://example.com/heartbeat",
				Args:  []string{"--period=5s"},
				Env:   []corev1.EnvVar{{Name: "POD_NAME", Value: "heartbeat"}},
			}}}},
		},
	}
	for _, opt := range opts {
		opt(src)
	}
	src.SetDefaults(context.Background())
	return src
}

// WithArgs sets the arguments of the source's container.
func WithArgs(args ...string) SourceOption {
	return func(src *sourcesv1.ContainerSource) { src.Spec.Template.Spec.Containers[0].Args = args }
}

// WithoutEnv removes the source's container's own variables.
func WithoutEnv(src *sourcesv1.ContainerSource) { src.Spec.Template.Spec.Containers[0].Env = nil }

// WithOverrides sets the source's CloudEvents extensions.
func WithOverrides(extensions map[string]string) SourceOption {
	return func(src *sourcesv1.ContainerSource) {
		src.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: extensions}
	}
}

// WithSinkURI sends the source's events to a URL.
func WithSinkURI(s string) SourceOption {
	return func(src *sourcesv1.ContainerSource) {
		src.Spec.Sink = duckv1.Destination{URI: mustParseURL(s)}
	}
}

// sinkBinding is the SinkBinding made of src, then opts.
func sinkBinding(src *sourcesv1.ContainerSource, opts ...func(*sourcesv1.SinkBinding)) *sourcesv1.SinkBinding {
	sb := resources.MakeSinkBinding(src)
	for _, opt := range opts {
		opt(sb)
	}
	return sb
}

// bindingReady is a binding its reconciler found ready, its sink at url.
func bindingReady(url string) func(*sourcesv1.SinkBinding) {
	return func(sb *sourcesv1.SinkBinding) {
		sb.Status.InitializeConditions()
		sb.Status.MarkSink(mustParseURL(url))
		sb.Status.MarkBindingAvailable()
	}
}

// bindingSinkNotFound is a binding whose sink does not resolve.
func bindingSinkNotFound(sb *sourcesv1.SinkBinding) {
	sb.Status.InitializeConditions()
	sb.Status.MarkNoSink("NotFound", `brokers.eventing.knative.dev "default" not found`)
}

// notOwnedBy makes an object the source's controller does not control.
func notOwnedBy[T metav1.Object](obj T) T {
	obj.SetOwnerReferences(nil)
	return obj
}

// deployment is the Deployment made of src, then opts.
func deployment(src *sourcesv1.ContainerSource, opts ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d, err := resources.MakeDeployment(src)
	if err != nil {
		panic(err)
	}
	for _, opt := range opts {
		opt(d)
	}
	return d
}

// bound gives every container the variables the SinkBinding sets, sinking
// to url, after its own.
func bound(url string, extra ...corev1.EnvVar) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		for i := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[i]
			c.Env = append(c.Env, corev1.EnvVar{Name: sources.SinkEnv, Value: url})
			c.Env = append(c.Env, extra...)
		}
	}
}

// available is a Deployment whose Available condition is status.
func available(status corev1.ConditionStatus, reason, message string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: status, Reason: reason, Message: message,
		}}
	}
}

// withStatus is src after a reconciliation: its conditions initialized,
// then mark.
func withStatus(src *sourcesv1.ContainerSource, mark func(*sourcesv1.ContainerSourceStatus)) *sourcesv1.ContainerSource {
	src.Status.InitializeConditions()
	src.Status.ObservedGeneration = src.Generation
	mark(&src.Status)
	return src
}

// markFalse turns condition t of s False, as the reconciler does for the
// failures the lifecycle has no Mark… method for.
func markFalse(s *sourcesv1.ContainerSourceStatus, t apis.ConditionType, reason, format string, args ...any) {
	(&sourcesv1.ContainerSource{}).GetConditionSet().Manage(s).MarkFalse(t, reason, format, args...)
}

// markUnknown turns condition t of s Unknown.
func markUnknown(s *sourcesv1.ContainerSourceStatus, t apis.ConditionType, reason, format string, args ...any) {
	(&sourcesv1.ContainerSource{}).GetConditionSet().Manage(s).MarkUnknown(t, reason, format, args...)
}

func mustParseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

// indexerOf is an informer's store holding the objects of type T.
func indexerOf[T runtime.Object](objs []runtime.Object) cache.Indexer {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		if t, ok := o.(T); ok {
			if err := idx.Add(t); err != nil {
				panic(err)
			}
		}
	}
	return idx
}

func objects(objs ...runtime.Object) []runtime.Object { return objs }
