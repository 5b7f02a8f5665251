package trigger

import (
	"context"
	"errors"
	"fmt"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	triggerreconciler "flywheel.dev/pkg/client/injection/reconciler/eventing/v1/trigger"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/jetstream"
)

// consumerCheckPeriod is how often a ready Trigger's consumer is checked
// again, so that one lost with NATS's state is made again (the dispatcher
// makes it again as soon as it notices, too).
const consumerCheckPeriod = time.Minute

// Consumers makes and deletes Triggers' consumers.
type Consumers interface {
	EnsureConsumer(ctx context.Context, broker types.NamespacedName, cfg natsjs.ConsumerConfig) error
	DeleteConsumer(ctx context.Context, broker types.NamespacedName, name string) error
}

// Reconciler keeps a Trigger's consumer and status.
type Reconciler struct {
	consumers    Consumers
	brokerLister listers.BrokerLister
	uriResolver  *resolver.URIResolver
}

var (
	_ triggerreconciler.Interface = (*Reconciler)(nil)
	_ triggerreconciler.Finalizer = (*Reconciler)(nil)
)

// ReconcileKind implements triggerreconciler.Interface.
func (r *Reconciler) ReconcileKind(ctx context.Context, t *eventingv1.Trigger) reconciler.Event {
	t.Status.InitializeConditions()
	brokerKey := types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.Broker}
	// The subscriber and the Trigger's own dead-letter sink first: the
	// status says what is wrong with them even while the Broker is
	// missing.
	subscriber, err := r.uriResolver.URIFromDestinationV1(ctx, t.Spec.Subscriber, t)
	if err != nil {
		t.Status.MarkSubscriberResolveFailed("The subscriber does not resolve: %v", err)
	} else {
		t.Status.MarkSubscriberResolved(subscriber)
	}
	ownDeadLetterSink := t.Spec.Delivery != nil && t.Spec.Delivery.DeadLetterSink != nil
	if ownDeadLetterSink {
		uri, err := r.uriResolver.URIFromDestinationV1(ctx, *t.Spec.Delivery.DeadLetterSink, t)
		if err != nil {
			t.Status.MarkDeadLetterSinkResolveFailed("The dead-letter sink does not resolve: %v", err)
		} else {
			t.Status.MarkDeadLetterSinkResolved(uri)
		}
	}
	b, err := r.brokerLister.Brokers(t.Namespace).Get(t.Spec.Broker)
	// A Broker being deleted counts as gone: its finalizer deletes its
	// stream, which making the consumer now would make again, for no
	// Broker.
	if apierrs.IsNotFound(err) || (err == nil && b.DeletionTimestamp != nil) {
		t.Status.MarkBrokerDoesNotExist(t.Namespace, t.Spec.Broker)
		t.Status.MarkSubscriptionNotReady(eventingv1.ReasonBrokerDoesNotExist, "Waiting for Broker %q.", t.Spec.Broker)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting Broker %s: %w", brokerKey, err)
	}
	t.Status.PropagateBrokerCondition(b.Status.GetCondition(apis.ConditionReady))

	ds := effectiveDelivery(t, b)
	switch {
	case ownDeadLetterSink:
		// Resolved above.
	case ds != nil && ds.DeadLetterSink != nil:
		// The Broker's own, which its reconciler resolved.
		if b.Status.DeadLetterSinkURI != nil {
			t.Status.MarkDeadLetterSinkResolved(b.Status.DeadLetterSinkURI)
		} else {
			t.Status.MarkDeadLetterSinkResolveFailed("The Broker's dead-letter sink does not resolve yet.")
		}
	default:
		t.Status.MarkDeadLetterSinkNotConfigured()
	}

	if _, err := delivery.ParamsFrom(ds); err != nil {
		// The webhook refuses such a spec; a Broker changed behind it
		// could still hold one.
		t.Status.MarkSubscriptionFailed("InvalidDelivery", "The delivery spec in use is invalid: %v", err)
		return controller.NewPermanentError(err)
	}
	if err := r.consumers.EnsureConsumer(ctx, brokerKey, jetstream.ConsumerConfig(t)); err != nil {
		t.Status.MarkSubscriptionFailed("ConsumerFailed", "Making the Trigger's JetStream consumer: %v", err)
		return fmt.Errorf("making the consumer of Trigger %s/%s: %w", t.Namespace, t.Name, err)
	}
	t.Status.MarkSubscriptionReady()
	return controller.NewRequeueAfter(consumerCheckPeriod)
}

// FinalizeKind deletes the Trigger's consumer.
// Without NATS there is none to delete.
func (r *Reconciler) FinalizeKind(ctx context.Context, t *eventingv1.Trigger) reconciler.Event {
	err := r.consumers.DeleteConsumer(ctx, types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.Broker}, jetstream.ConsumerName(t.UID))
	if errors.Is(err, jetstream.ErrNotConfigured) {
		return nil
	}
	return err
}

// effectiveDelivery is the DeliverySpec a Trigger's events get: its own,
// else its Broker's, as in Knative.
func effectiveDelivery(t *eventingv1.Trigger, b *eventingv1.Broker) *eventingv1.DeliverySpec {
	if t.Spec.Delivery != nil {
		return t.Spec.Delivery
	}
	return b.Spec.Delivery
}
