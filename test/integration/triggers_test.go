//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
)

// TestBrokerAndTriggerConditionsFollowTheirDependencies runs the
// controller against the real API server, without NATS (local mode and
// config/eventing bring it; the end-to-end tests use it), and follows a
// Trigger's conditions as its Broker and subscriber appear and go, and
// the Broker's as it finds no NATS to keep its stream in.
func TestBrokerAndTriggerConditionsFollowTheirDependencies(t *testing.T) {
	needController(t)
	ctx := t.Context()
	ns := newNamespace(t, "triggers")
	client := versioned.NewForConfigOrDie(cluster.RESTConfig())

	_, err := client.EventingV1().Triggers(ns).Create(ctx, &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "orders"},
		Spec: eventingv1.TriggerSpec{
			Broker:     "default",
			Subscriber: duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "orders"}},
			Delivery:   &eventingv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: apis.HTTP("dead-letters.example")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitTriggerCondition(t, client, ns, "orders", eventingv1.TriggerConditionBroker, corev1.ConditionFalse, eventingv1.ReasonBrokerDoesNotExist)
	waitTriggerCondition(t, client, ns, "orders", eventingv1.TriggerConditionSubscriberResolved, corev1.ConditionFalse, eventingv1.ReasonUnresolved)
	tr := waitTriggerCondition(t, client, ns, "orders", eventingv1.TriggerConditionDeadLetterSinkResolved, corev1.ConditionTrue, "")
	if got := tr.Status.DeadLetterSinkURI.String(); got != "http://dead-letters.example" {
		t.Errorf("deadLetterSinkUri = %q", got)
	}

	// The Broker appears, but there is no NATS for its stream.
	if _, err := client.EventingV1().Brokers(ns).Create(ctx, &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := waitBrokerCondition(t, client, ns, "default", eventingv1.BrokerConditionStream, corev1.ConditionFalse, "StreamFailed")
	if c := b.Status.GetCondition(eventingv1.BrokerConditionStream); !strings.Contains(c.Message, "NATS is not configured") {
		t.Errorf("the stream condition says %q, want it to name the missing NATS", c.Message)
	}
	waitBrokerCondition(t, client, ns, "default", eventingv1.BrokerConditionIngress, corev1.ConditionUnknown, "NoEndpoints")
	waitTriggerCondition(t, client, ns, "orders", eventingv1.TriggerConditionBroker, corev1.ConditionFalse, eventingv1.ReasonBrokerFailed)

	// The subscriber appears.
	if _, err := cluster.Kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "orders"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr = waitTriggerCondition(t, client, ns, "orders", eventingv1.TriggerConditionSubscriberResolved, corev1.ConditionTrue, "")
	if got, want := tr.Status.SubscriberURI.String(), "http://orders."+ns+".svc.cluster.local"; got != want {
		t.Errorf("subscriberUri = %q, want %q", got, want)
	}

	// The Broker goes; with no NATS, nothing holds its deletion.
	if err := client.EventingV1().Brokers(ns).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.EventingV1().Brokers(ns).Get(ctx, "default", metav1.GetOptions{})
		return apierrs.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("the Broker was not deleted: %v", err)
	}
	waitTriggerCondition(t, client, ns, "orders", eventingv1.TriggerConditionBroker, corev1.ConditionFalse, eventingv1.ReasonBrokerDoesNotExist)
}

func waitTriggerCondition(t *testing.T, client versioned.Interface, ns, name string, typ apis.ConditionType, status corev1.ConditionStatus, reason string) *eventingv1.Trigger {
	t.Helper()
	var tr *eventingv1.Trigger
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		if tr, err = client.EventingV1().Triggers(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, nil
		}
		c := tr.Status.GetCondition(typ)
		return c != nil && c.Status == status && (reason == "" || c.Reason == reason), nil
	})
	if err != nil {
		t.Fatalf("Trigger %s: waiting for %s=%s (%s); conditions %+v", name, typ, status, reason, tr.Status.Conditions)
	}
	return tr
}

func waitBrokerCondition(t *testing.T, client versioned.Interface, ns, name string, typ apis.ConditionType, status corev1.ConditionStatus, reason string) *eventingv1.Broker {
	t.Helper()
	var b *eventingv1.Broker
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		if b, err = client.EventingV1().Brokers(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, nil
		}
		c := b.Status.GetCondition(typ)
		return c != nil && c.Status == status && (reason == "" || c.Reason == reason), nil
	})
	if err != nil {
		t.Fatalf("Broker %s: waiting for %s=%s (%s); conditions %+v", name, typ, status, reason, b.Status.Conditions)
	}
	return b
}
