package broker

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/jetstream"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const (
	testNamespace   = "demo"
	testBroker      = "default"
	systemNamespace = "flywheel-system"
	testDomain      = "cluster.local"
)

var brokerKey = types.NamespacedName{Namespace: testNamespace, Name: testBroker}

// fakeStreams records what the reconciler asks of JetStream and answers
// with the consumers and errors a row gives.
type fakeStreams struct {
	consumers []jetstream.ConsumerInfo
	// errs holds the error each operation returns, by its method name.
	errs  map[string]error
	calls []call
}

// call is one request to the fake: the method, the Broker, and for
// DeleteConsumer the consumer.
type call struct {
	Op       string
	Broker   types.NamespacedName
	Consumer string
}

var _ Streams = (*fakeStreams)(nil)

func (f *fakeStreams) EnsureStream(_ context.Context, broker types.NamespacedName) error {
	f.calls = append(f.calls, call{Op: "EnsureStream", Broker: broker})
	return f.errs["EnsureStream"]
}

func (f *fakeStreams) DeleteStream(_ context.Context, broker types.NamespacedName) error {
	f.calls = append(f.calls, call{Op: "DeleteStream", Broker: broker})
	return f.errs["DeleteStream"]
}

func (f *fakeStreams) Consumers(_ context.Context, broker types.NamespacedName) ([]jetstream.ConsumerInfo, error) {
	f.calls = append(f.calls, call{Op: "Consumers", Broker: broker})
	if err := f.errs["Consumers"]; err != nil {
		return nil, err
	}
	return f.consumers, nil
}

func (f *fakeStreams) DeleteConsumer(_ context.Context, broker types.NamespacedName, name string) error {
	f.calls = append(f.calls, call{Op: "DeleteConsumer", Broker: broker, Consumer: name})
	return f.errs["DeleteConsumer"]
}

// BrokerOption changes a test Broker.
type BrokerOption func(*eventingv1.Broker)

// newBroker is testBroker as the API server stores it, then opts.
func newBroker(opts ...BrokerOption) *eventingv1.Broker {
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{
		Namespace: testNamespace, Name: testBroker, UID: "broker-uid", Generation: 1,
	}}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// WithDeadLetterSink gives the Broker a dead-letter sink.
func WithDeadLetterSink(dest duckv1.Destination) BrokerOption {
	return func(b *eventingv1.Broker) {
		b.Spec.Delivery = &eventingv1.DeliverySpec{DeadLetterSink: &dest}
	}
}

// uriDestination is a destination given as a URL.
func uriDestination(s string) duckv1.Destination {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return duckv1.Destination{URI: u}
}

// refDestination is a destination given as a reference, with the
// namespace the webhook's defaults fill in.
func refDestination(apiVersion, kind, name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{
		APIVersion: apiVersion, Kind: kind, Namespace: testNamespace, Name: name,
	}}
}

// newTrigger is a Trigger of broker with the given UID.
func newTrigger(name, broker string, uid types.UID) *eventingv1.Trigger {
	return &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, UID: uid},
		Spec: eventingv1.TriggerSpec{
			Broker:     broker,
			Subscriber: uriDestination("http://display.demo.svc.cluster.local"),
		},
	}
}

// ingressSlice is an EndpointSlice of the ingress Service in namespace ns
// with one endpoint of the given readiness; nil is how some writers say
// ready.
func ingressSlice(ns string, ready *bool) *discoveryv1.EndpointSlice {
	return serviceSlice(ns, eventing.IngressServiceName, ready)
}

// serviceSlice is an EndpointSlice of Service svc in ns.
func serviceSlice(ns, svc string, ready *bool) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: svc + "-abcde",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.0.0.7"},
			Conditions: discoveryv1.EndpointConditions{Ready: ready},
		}},
	}
}

// readySlice is the ingress's slice with a ready endpoint.
var readySlice = ingressSlice(systemNamespace, ptr.To(true))

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
