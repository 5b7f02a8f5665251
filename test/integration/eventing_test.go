//go:build integration

package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
)

// TestEventingAPIIsServedAsKnativeClientsLookForIt checks what the stock
// kn client checks before its broker and trigger commands: the API
// server serves eventing.knative.dev/v1 with brokers and triggers.
func TestEventingAPIIsServedAsKnativeClientsLookForIt(t *testing.T) {
	dc := discovery.NewDiscoveryClientForConfigOrDie(cluster.RESTConfig())
	resources, err := dc.ServerResourcesForGroupVersion("eventing.knative.dev/v1")
	if err != nil {
		t.Fatalf("discovering eventing.knative.dev/v1: %v", err)
	}
	var names []string
	for _, r := range resources.APIResources {
		names = append(names, r.Name)
	}
	for _, want := range []string{"brokers", "brokers/status", "triggers", "triggers/status"} {
		if !slices.Contains(names, want) {
			t.Errorf("eventing.knative.dev/v1 serves %v, missing %s", names, want)
		}
	}
}

// TestWebhookDefaultsBrokersAndTriggers creates the smallest Broker and
// Trigger a user writes and checks what the webhook fills in.
func TestWebhookDefaultsBrokersAndTriggers(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "evdefaults")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())

	b, err := client.EventingV1().Brokers(ns).Create(ctx, &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: eventingv1.BrokerSpec{Delivery: &eventingv1.DeliverySpec{
			DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "dls"}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Broker: %v", err)
	}
	if got := b.Annotations[eventing.BrokerClassAnnotation.String()]; got != eventing.BrokerClass {
		t.Errorf("broker class = %q, want %q", got, eventing.BrokerClass)
	}
	if got := b.Spec.Delivery.DeadLetterSink.Ref.Namespace; got != ns {
		t.Errorf("the dead-letter sink's namespace = %q, want %q", got, ns)
	}

	tr, err := client.EventingV1().Triggers(ns).Create(ctx, &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "orders"},
		Spec: eventingv1.TriggerSpec{
			Broker:     "default",
			Filter:     &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": "com.example.order"}},
			Filters:    []eventingv1.SubscriptionsAPIFilter{{Any: []eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"source": "/shop"}}, {CESQL: "subject LIKE 'eu-%'"}}}},
			Subscriber: duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "orders"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Trigger: %v", err)
	}
	if got := tr.Labels[eventing.BrokerLabel.String()]; got != "default" {
		t.Errorf("broker label = %q, want default", got)
	}
	if got := tr.Spec.Subscriber.Ref.Namespace; got != ns {
		t.Errorf("the subscriber's namespace = %q, want %q", got, ns)
	}
	// Nested filters are kept whole: the schema does not prune them.
	if got := tr.Spec.Filters; len(got) != 1 || len(got[0].Any) != 2 || got[0].Any[1].CESQL != "subject LIKE 'eu-%'" {
		t.Errorf("the nested filters came back as %+v", got)
	}
}

// TestWebhookRefusesInvalidBrokersAndTriggers checks that each mistake is
// refused with a message naming the field and the fix.
func TestWebhookRefusesInvalidBrokersAndTriggers(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "evvalidation")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())
	subscriber := duckv1.Destination{URI: apis.HTTP("example.com")}

	for _, tc := range []struct {
		name    string
		trigger eventingv1.TriggerSpec
		want    []string
	}{{
		name:    "no broker",
		trigger: eventingv1.TriggerSpec{Subscriber: subscriber},
		want:    []string{"spec.broker"},
	}, {
		name:    "no subscriber",
		trigger: eventingv1.TriggerSpec{Broker: "default"},
		want:    []string{"spec.subscriber"},
	}, {
		name:    "two dialects in one filter",
		trigger: eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber, Filters: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "a"}, Prefix: map[string]string{"source": "b"}}}},
		want:    []string{"a filter holds one dialect", "spec.filters[0]"},
	}, {
		name:    "malformed CESQL",
		trigger: eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber, Filters: []eventingv1.SubscriptionsAPIFilter{{CESQL: "type = "}}},
		want:    []string{"invalid CESQL expression", "spec.filters[0].cesql"},
	}, {
		name:    "an attribute name in capitals",
		trigger: eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber, Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"Type": "a"}}},
		want:    []string{"lower-case letters and digits", "spec.filter.attributes"},
	}, {
		name:    "a backoff delay that is not ISO 8601",
		trigger: eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber, Delivery: &eventingv1.DeliverySpec{BackoffDelay: ptrTo("5s")}},
		want:    []string{"spec.delivery.backoffDelay", "PT0.2S"},
	}, {
		name:    "a negative retry",
		trigger: eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber, Delivery: &eventingv1.DeliverySpec{Retry: ptrTo[int32](-1)}},
		want:    []string{"spec.delivery.retry", "must not be negative"},
	}, {
		name:    "an unknown backoff policy",
		trigger: eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber, Delivery: &eventingv1.DeliverySpec{BackoffPolicy: ptrTo[eventingv1.BackoffPolicyType]("random")}},
		want:    []string{"backoffPolicy"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.EventingV1().Triggers(ns).Create(ctx, &eventingv1.Trigger{
				ObjectMeta: metav1.ObjectMeta{Name: "bad"},
				Spec:       tc.trigger,
			}, metav1.CreateOptions{})
			if err == nil {
				t.Fatal("the Trigger was accepted")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal %q does not say %q", err, want)
				}
			}
		})
	}

	t.Run("an ordering that does not exist", func(t *testing.T) {
		_, err := client.EventingV1().Triggers(ns).Create(ctx, &eventingv1.Trigger{
			ObjectMeta: metav1.ObjectMeta{Name: "bad", Annotations: map[string]string{eventing.DeliveryOrderAnnotation.String(): "sorted"}},
			Spec:       eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber},
		}, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), eventing.DeliveryOrderAnnotation.String()) {
			t.Errorf("the Trigger with delivery order sorted: err = %v, want a refusal naming the annotation", err)
		}
	})

	t.Run("moving a Trigger to another Broker", func(t *testing.T) {
		tr, err := client.EventingV1().Triggers(ns).Create(ctx, &eventingv1.Trigger{
			ObjectMeta: metav1.ObjectMeta{Name: "fixed"},
			Spec:       eventingv1.TriggerSpec{Broker: "default", Subscriber: subscriber},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tr.Spec.Broker = "other"
		if _, err := client.EventingV1().Triggers(ns).Update(ctx, tr, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.broker cannot change") {
			t.Errorf("changing spec.broker: err = %v, want a refusal", err)
		}
	})

	t.Run("changing a Broker's config", func(t *testing.T) {
		b, err := client.EventingV1().Brokers(ns).Create(ctx, &eventingv1.Broker{
			ObjectMeta: metav1.ObjectMeta{Name: "configured"},
			Spec:       eventingv1.BrokerSpec{Config: &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Name: "a"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b.Spec.Config.Name = "b"
		if _, err := client.EventingV1().Brokers(ns).Update(ctx, b, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.config cannot change") {
			t.Errorf("changing spec.config: err = %v, want a refusal", err)
		}
	})
}
