package trigger

import (
	"context"
	"errors"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace = "demo"
	testTrigger   = "display"
	testBroker    = "default"
	testUID       = types.UID("3f1c0a52-8d1e-4b8e-9a57-0c6f2b7d9e11")
)

var brokerKey = types.NamespacedName{Namespace: testNamespace, Name: testBroker}

// fakeConsumers records what the reconciler asks of JetStream and fails
// with the errors a row gives.
type fakeConsumers struct {
	// errs holds the error each operation returns, by its method name.
	errs  map[string]error
	calls []call
}

// call is one request to the fake: the method, the Broker, and the
// consumer's config (EnsureConsumer) or name (DeleteConsumer).
type call struct {
	Op       string
	Broker   types.NamespacedName
	Config   *natsjs.ConsumerConfig
	Consumer string
}

var _ Consumers = (*fakeConsumers)(nil)

func (f *fakeConsumers) EnsureConsumer(_ context.Context, broker types.NamespacedName, cfg natsjs.ConsumerConfig) error {
	f.calls = append(f.calls, call{Op: "EnsureConsumer", Broker: broker, Config: &cfg})
	return f.errs["EnsureConsumer"]
}

func (f *fakeConsumers) DeleteConsumer(_ context.Context, broker types.NamespacedName, name string) error {
	f.calls = append(f.calls, call{Op: "DeleteConsumer", Broker: broker, Consumer: name})
	return f.errs["DeleteConsumer"]
}

// TriggerOption changes a test Trigger.
type TriggerOption func(*eventingv1.Trigger)

// newTrigger is testTrigger of testBroker with a URL subscriber, as the
// API server stores it, then opts.
func newTrigger(opts ...TriggerOption) *eventingv1.Trigger {
	t := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testTrigger, UID: testUID, Generation: 1},
		Spec: eventingv1.TriggerSpec{
			Broker:     testBroker,
			Subscriber: uriDestination("http://display.example.com/events"),
		},
	}
	for _, opt := range opts {
		opt(t)
	}
	return t
}

// WithSubscriber sets the Trigger's subscriber.
func WithSubscriber(dest duckv1.Destination) TriggerOption {
	return func(t *eventingv1.Trigger) { t.Spec.Subscriber = dest }
}

// WithTriggerDelivery sets the Trigger's delivery spec.
func WithTriggerDelivery(ds *eventingv1.DeliverySpec) TriggerOption {
	return func(t *eventingv1.Trigger) { t.Spec.Delivery = ds }
}

// WithDeliveryOrder annotates the Trigger with a delivery order.
func WithDeliveryOrder(order string) TriggerOption {
	return func(t *eventingv1.Trigger) {
		t.Annotations = map[string]string{eventing.DeliveryOrderAnnotation.String(): order}
	}
}

// BrokerOption changes a test Broker.
type BrokerOption func(*eventingv1.Broker)

// newBroker is testBroker, without status, then opts.
func newBroker(opts ...BrokerOption) *eventingv1.Broker {
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{
		Namespace: testNamespace, Name: testBroker, UID: "broker-uid", Generation: 1,
	}}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// WithBrokerName names the Broker.
func WithBrokerName(name string) BrokerOption {
	return func(b *eventingv1.Broker) { b.Name = name }
}

// WithBrokerReady is a Broker its reconciler found ready.
func WithBrokerReady(b *eventingv1.Broker) {
	b.Status.InitializeConditions()
	b.Status.MarkIngressReady()
	b.Status.MarkStreamReady()
	b.Status.SetAddress(&apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/demo/default"})
	if b.Spec.Delivery == nil || b.Spec.Delivery.DeadLetterSink == nil {
		b.Status.MarkDeadLetterSinkNotConfigured()
	}
}

// WithBrokerIngressNotReady is a Broker waiting for the ingress.
func WithBrokerIngressNotReady(b *eventingv1.Broker) {
	WithBrokerReady(b)
	b.Status.MarkIngressNotReady("NoEndpoints", "no ready endpoint")
}

// WithBrokerStreamFailed is a Broker whose stream could not be made.
func WithBrokerStreamFailed(b *eventingv1.Broker) {
	WithBrokerReady(b)
	b.Status.MarkStreamFailed("StreamFailed", "nats down")
}

// WithBrokerDelivery sets the Broker's delivery spec.
func WithBrokerDelivery(ds *eventingv1.DeliverySpec) BrokerOption {
	return func(b *eventingv1.Broker) { b.Spec.Delivery = ds }
}

// WithBrokerDeadLetterSinkURI is the Broker's dead-letter sink as its
// reconciler resolved it.
func WithBrokerDeadLetterSinkURI(s string) BrokerOption {
	return func(b *eventingv1.Broker) { b.Status.MarkDeadLetterSinkResolved(mustParseURL(s)) }
}

// WithBrokerDeadLetterSinkFailed is a Broker whose dead-letter sink its
// reconciler could not resolve.
func WithBrokerDeadLetterSinkFailed(b *eventingv1.Broker) {
	b.Status.MarkDeadLetterSinkResolveFailed("Unresolved", "services \"dls\" not found")
}

// WithBrokerDeletionTimestamp is a Broker being deleted, its finalizer
// still on.
func WithBrokerDeletionTimestamp(b *eventingv1.Broker) {
	b.DeletionTimestamp = ptr.To(metav1.NewTime(time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)))
	b.Finalizers = []string{"brokers.eventing.knative.dev"}
}

// deadLetterSink is a delivery spec with only a dead-letter sink.
func deadLetterSink(dest duckv1.Destination) *eventingv1.DeliverySpec {
	return &eventingv1.DeliverySpec{DeadLetterSink: &dest}
}

func mustParseURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

// uriDestination is a destination given as a URL.
func uriDestination(s string) duckv1.Destination {
	return duckv1.Destination{URI: mustParseURL(s)}
}

// refDestination is a destination given as a reference, with the
// namespace the webhook's defaults fill in.
func refDestination(apiVersion, kind, name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{
		APIVersion: apiVersion, Kind: kind, Namespace: testNamespace, Name: name,
	}}
}

// kubeService is a Kubernetes Service in the test namespace, something a
// destination can refer to.
func kubeService(name string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
	}
}

// knativeService is a Knative Service in the test namespace with the
// given address, as the dynamic client sees it.
func knativeService(name, url string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   map[string]any{"namespace": testNamespace, "name": name},
		"status":     map[string]any{"address": map[string]any{"url": url}},
	}}
}

// The shared helpers, under the names these tests use.
type cond = fwtesting.Cond

var (
	isTrue        = fwtesting.IsTrue
	isTrueBecause = fwtesting.IsTrueBecause
	isFalse       = fwtesting.IsFalse
	isUnknown     = fwtesting.IsUnknown
	conditionsOf  = fwtesting.ConditionsOf
	sortConds     = fwtesting.SortConds
	outcome       = fwtesting.Outcome
	newResolver   = fwtesting.NewURIResolver
)

func newIndexer[T runtime.Object](t *testing.T, objs ...T) cache.Indexer {
	t.Helper()
	return fwtesting.NewIndexer(t, objs...)
}

var errNATS = errors.New("nats: no responders available for request")
