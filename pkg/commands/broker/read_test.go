package broker

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// withDelivery gives a Broker a delivery spec and its resolved
// dead-letter sink.
func withDelivery(b *eventingv1.Broker) {
	b.Spec.Delivery = &eventingv1.DeliverySpec{
		DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "errors"}},
		Retry:          ptr.To[int32](5),
		BackoffPolicy:  ptr.To(eventingv1.BackoffPolicyExponential),
		BackoffDelay:   ptr.To("PT0.5S"),
		Timeout:        ptr.To("PT10S"),
	}
	b.Status.DeadLetterSinkURI = &apis.URL{Scheme: "http", Host: "errors.demo.svc.cluster.local"}
	for i := range b.Status.Conditions {
		if b.Status.Conditions[i].Type == eventingv1.BrokerConditionDeadLetterSinkResolved {
			b.Status.Conditions[i].Reason = ""
		}
	}
}

func TestListShowsATable(t *testing.T) {
	objs := []runtime.Object{
		broker("default"),
		broker("orders", status(eventingv1.BrokerConditionStream, corev1.ConditionFalse, "StreamFailed", "boom")),
		broker("elsewhere", func(b *eventingv1.Broker) { b.Namespace = "other" }),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME     URL                                                                   AGE  READY  REASON
default  http://broker-ingress.flywheel-system.svc.cluster.local/demo/default  10m  True
orders   http://broker-ingress.flywheel-system.svc.cluster.local/demo/orders   10m  False  StreamFailed
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "list", "-A")
	if err != nil {
		t.Fatal(err)
	}
	want = `NAMESPACE  NAME       URL                                                                     AGE  READY  REASON
demo       default    http://broker-ingress.flywheel-system.svc.cluster.local/demo/default    10m  True
demo       orders     http://broker-ingress.flywheel-system.svc.cluster.local/demo/orders     10m  False  StreamFailed
other      elsewhere  http://broker-ingress.flywheel-system.svc.cluster.local/demo/elsewhere  10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list -A (-want, +got):\n%s", diff)
	}
}

func TestListEmpty(t *testing.T) {
	out, _, err := run(t, nil, "list")
	if err != nil {
		t.Fatal(err)
	}
	if want := "No Brokers found in namespace demo.\n"; out != want {
		t.Errorf("list = %q, want %q", out, want)
	}
}

func TestDescribeShowsAddressDeliveryAndConditions(t *testing.T) {
	out, _, err := run(t, []runtime.Object{broker("orders", withDelivery)}, "describe", "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:             orders
Namespace:        demo
Class:            JetStream
URL:              http://broker-ingress.flywheel-system.svc.cluster.local/demo/orders
Age:              10m
Dead letter sink: ksvc:errors
Retry:            5
Backoff:          exponential, delay PT0.5S
Timeout:          PT10S
Dead letter URI:  http://errors.demo.svc.cluster.local

Conditions:
  TYPE                    STATUS  REASON  AGE  MESSAGE
  Addressable             True
  DeadLetterSinkResolved  True
  IngressReady            True
  Ready                   True            9m
  StreamReady             True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

func TestDescribeANewBroker(t *testing.T) {
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns, CreationTimestamp: metav1.NewTime(broker("x").CreationTimestamp.Time)}}
	out, _, err := run(t, []runtime.Object{b}, "describe", "default")
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "describe", out, "Name:      default\n", "Age:       10m\n", "\nConditions:\n  none reported yet\n")
}

func TestDescribeMissing(t *testing.T) {
	_, _, err := run(t, nil, "describe", "nope")
	if err == nil || err.Error() != "no Broker nope in namespace demo; see fw broker list -n demo" {
		t.Errorf("error = %v", err)
	}
}

// TestReadCommandsPrintTheObjectsAsTheAPIHasThem checks -o json and -o
// yaml: the objects as stored, with apiVersion and kind.
func TestReadCommandsPrintTheObjectsAsTheAPIHasThem(t *testing.T) {
	orders := broker("orders", withDelivery)
	objs := []runtime.Object{orders}
	wantItem := orders.DeepCopy()
	wantItem.APIVersion, wantItem.Kind = "eventing.knative.dev/v1", "Broker"

	for _, format := range []string{"json", "yaml"} {
		t.Run("describe -o "+format, func(t *testing.T) {
			out, _, err := run(t, objs, "describe", "orders", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got eventingv1.Broker
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a Broker: %v\n%s", err, out)
			}
			if diff := cmp.Diff(wantItem, &got); diff != "" {
				t.Errorf("describe -o %s (-want, +got):\n%s", format, diff)
			}
		})
		t.Run("list -o "+format, func(t *testing.T) {
			out, _, err := run(t, objs, "list", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got eventingv1.BrokerList
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a BrokerList: %v\n%s", err, out)
			}
			want := &eventingv1.BrokerList{
				TypeMeta: metav1.TypeMeta{APIVersion: "eventing.knative.dev/v1", Kind: "BrokerList"},
				ListMeta: got.ListMeta, // the fake's resource version
				Items:    []eventingv1.Broker{*wantItem},
			}
			if diff := cmp.Diff(want, &got); diff != "" {
				t.Errorf("list -o %s (-want, +got):\n%s", format, diff)
			}
		})
	}
	t.Run("json is JSON", func(t *testing.T) {
		out, _, err := run(t, objs, "describe", "orders", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("not JSON:\n%s", out)
		}
	})
}

// TestDescribeURL: a Broker's URL is its address, for scripts that post
// events: curl -X POST "$(fw broker describe orders -o url)".
func TestDescribeURL(t *testing.T) {
	out, _, err := run(t, []runtime.Object{broker("orders")}, "describe", "orders", "-o", "url")
	if want := "http://broker-ingress.flywheel-system.svc.cluster.local/demo/orders\n"; err != nil || out != want {
		t.Errorf("describe -o url = %q, %v; want %q", out, err, want)
	}
}
