package trigger

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

func TestListShowsATable(t *testing.T) {
	objs := []runtime.Object{
		trigger("orders", filtered(map[string]string{"type": "com.example.order.placed"})),
		trigger("audit", func(t *eventingv1.Trigger) {
			t.Spec.Broker = "archive"
			t.Spec.Subscriber = duckv1.Destination{URI: &apis.URL{Scheme: "https", Host: "audit.example.com", Path: "/in"}}
		}),
		trigger("broken", func(t *eventingv1.Trigger) {
			t.Spec.Subscriber.Ref.Name = "nope"
			t.Status.SubscriberURI = nil
			t.Status.MarkSubscriberResolveFailed("services.serving.knative.dev %q not found", "nope")
		}),
		trigger("elsewhere", func(t *eventingv1.Trigger) { t.Namespace = "other" }),
	}
	out, _, err := run(t, objs, "list")
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME    BROKER   SINK                          AGE  READY  REASON
audit   archive  https://audit.example.com/in  10m  True
broken  default  ksvc:nope                     10m  False  Unresolved
orders  default  ksvc:hello                    10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list (-want, +got):\n%s", diff)
	}

	out, _, err = run(t, objs, "list", "--broker", "default", "-A")
	if err != nil {
		t.Fatal(err)
	}
	want = `NAMESPACE  NAME       BROKER   SINK                          AGE  READY  REASON
demo       broken     default  ksvc:nope                     10m  False  Unresolved
demo       orders     default  ksvc:hello                    10m  True
other      elsewhere  default  ksvc:hello in namespace demo  10m  True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("list --broker default -A (-want, +got):\n%s", diff)
	}
}

func TestListEmpty(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "No Triggers found in namespace demo.\n"},
		{[]string{"list", "--broker", "default"}, "No Triggers of Broker default found in namespace demo.\n"},
	} {
		out, _, err := run(t, []runtime.Object{trigger("elsewhere", func(t *eventingv1.Trigger) { t.Namespace = "other" })}, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if out != tc.want {
			t.Errorf("%v = %q, want %q", tc.args, out, tc.want)
		}
	}
}

// full is a Trigger with every setting describe shows.
func full(t *eventingv1.Trigger) {
	t.Annotations = map[string]string{eventing.DeliveryOrderAnnotation.String(): eventing.DeliveryOrderOrdered}
	t.Spec.Filter = &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "com.example.order.placed", "source": "/shop"}}
	t.Spec.Filters = []eventingv1.SubscriptionsAPIFilter{
		{Prefix: map[string]string{"subject": "order-"}},
		{Any: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"region": "eu"}}, {CESQL: "region = 'us'"}}},
	}
	t.Spec.Delivery = &eventingv1.DeliverySpec{
		DeadLetterSink: &duckv1.Destination{URI: &apis.URL{Scheme: "http", Host: "errors.demo.svc.cluster.local"}},
		Retry:          ptr.To[int32](3),
	}
	t.Status.DeadLetterSinkURI = &apis.URL{Scheme: "http", Host: "errors.demo.svc.cluster.local"}
	t.Status.Conditions[1].Reason = ""
}

func TestDescribeShowsFilterSubscriberDeadLetterSinkAndConditions(t *testing.T) {
	out, _, err := run(t, []runtime.Object{trigger("orders", full)}, "describe", "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:             orders
Namespace:        demo
Broker:           default
Age:              10m
Order:            ordered
Filter:           source=/shop
                  type=com.example.order.placed
                  prefix(subject=order-)
                  any(exact(region=eu), cesql(region = 'us'))
Subscriber:       ksvc:hello
Subscriber URI:   http://hello.demo.svc.cluster.local
Dead letter sink: http://errors.demo.svc.cluster.local
Retry:            3
Dead letter URI:  http://errors.demo.svc.cluster.local

Conditions:
  TYPE                    STATUS  REASON  AGE  MESSAGE
  BrokerReady             True
  DeadLetterSinkResolved  True
  Ready                   True            9m
  SubscriberResolved      True
  SubscriptionReady       True
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("describe (-want, +got):\n%s", diff)
	}
}

func TestDescribeATriggerWithoutFilterOrDelivery(t *testing.T) {
	tr := trigger("all", func(t *eventingv1.Trigger) {
		t.Status.DeadLetterSinkURI = &apis.URL{Scheme: "http", Host: "broker-errors.demo.svc.cluster.local"}
		t.Status.Conditions[0] = apis.Condition{Type: eventingv1.TriggerConditionBroker, Status: corev1.ConditionFalse,
			Reason: eventingv1.ReasonBrokerDoesNotExist, Message: `Broker "default" does not exist in namespace "demo"`}
	})
	out, _, err := run(t, []runtime.Object{tr}, "describe", "all")
	if err != nil {
		t.Fatal(err)
	}
	checkContains(t, "describe", out,
		"Order:           unordered\n",
		"Filter:          none: every event of the Broker\n",
		"Subscriber:      ksvc:hello\n",
		// The Broker's dead-letter sink, which the Trigger uses.
		"Dead letter URI: http://broker-errors.demo.svc.cluster.local\n",
		"  BrokerReady             False   BrokerDoesNotExist", `Broker "default" does not exist in namespace "demo"`)
}

func TestDescribeMissing(t *testing.T) {
	_, _, err := run(t, nil, "describe", "nope")
	if err == nil || err.Error() != "no Trigger nope in namespace demo; see fw trigger list -n demo" {
		t.Errorf("error = %v", err)
	}
}

// TestReadCommandsPrintTheObjectsAsTheAPIHasThem checks -o json and -o
// yaml: the objects as stored, with apiVersion and kind; list --broker
// prints only that Broker's.
func TestReadCommandsPrintTheObjectsAsTheAPIHasThem(t *testing.T) {
	orders := trigger("orders", full)
	objs := []runtime.Object{orders, trigger("audit", func(t *eventingv1.Trigger) { t.Spec.Broker = "archive" })}
	wantItem := orders.DeepCopy()
	wantItem.APIVersion, wantItem.Kind = "eventing.knative.dev/v1", "Trigger"

	for _, format := range []string{"json", "yaml"} {
		t.Run("describe -o "+format, func(t *testing.T) {
			out, _, err := run(t, objs, "describe", "orders", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got eventingv1.Trigger
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a Trigger: %v\n%s", err, out)
			}
			if diff := cmp.Diff(wantItem, &got); diff != "" {
				t.Errorf("describe -o %s (-want, +got):\n%s", format, diff)
			}
		})
		t.Run("list -o "+format, func(t *testing.T) {
			out, _, err := run(t, objs, "list", "--broker", "default", "-o", format)
			if err != nil {
				t.Fatal(err)
			}
			var got eventingv1.TriggerList
			if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil {
				t.Fatalf("output is not a TriggerList: %v\n%s", err, out)
			}
			want := &eventingv1.TriggerList{
				TypeMeta: metav1.TypeMeta{APIVersion: "eventing.knative.dev/v1", Kind: "TriggerList"},
				ListMeta: got.ListMeta, // the fake's resource version
				Items:    []eventingv1.Trigger{*wantItem},
			}
			if diff := cmp.Diff(want, &got); diff != "" {
				t.Errorf("list -o %s (-want, +got):\n%s", format, diff)
			}
		})
	}
}
