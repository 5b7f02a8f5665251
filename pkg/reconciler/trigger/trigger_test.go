package trigger

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	logtesting "knative.dev/pkg/logging/testing"
	"knative.dev/pkg/network"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/jetstream"
)

// The conditions of a Trigger with nothing wrong.
var (
	readyCond          = isTrue(apis.ConditionReady)
	brokerReady        = isTrue(eventingv1.TriggerConditionBroker)
	subscriberResolved = isTrue(eventingv1.TriggerConditionSubscriberResolved)
	noDeadLetterSink   = isTrueBecause(eventingv1.TriggerConditionDeadLetterSinkResolved, "DeadLetterSinkNotConfigured")
	deadLetterResolved = isTrue(eventingv1.TriggerConditionDeadLetterSinkResolved)
	subscriptionReady  = isTrue(eventingv1.TriggerConditionSubscription)
)

// subscriberURL is newTrigger's subscriber.
const subscriberURL = "http://display.example.com/events"

// ensured is the one call of a reconciliation that made trigger's
// consumer, with the config the dispatcher makes it with too (the two
// differing, each would change the consumer back and forth).
func ensured(trigger *eventingv1.Trigger) []call {
	cfg := jetstream.ConsumerConfig(trigger)
	return []call{{Op: "EnsureConsumer", Broker: brokerKey, Config: &cfg}}
}

func TestReconcileKind(t *testing.T) {
	badDelivery := &eventingv1.DeliverySpec{Retry: ptr.To[int32](-1)}

	tests := []struct {
		name string
		// The world at the start of the reconciliation.
		trigger *eventingv1.Trigger
		brokers []*eventingv1.Broker
		sinks   []runtime.Object // what references resolve against
		errs    map[string]error // by Consumers method
		// What the reconciliation did.
		wantOutcome    string
		wantConditions []cond
		wantSubscriber string
		wantDLS        string
		wantConsumer   bool // EnsureConsumer called, with the Trigger's config
	}{{
		name:           "Broker ready, subscriber given as a URL: consumer made, Trigger Ready, checked again in a minute",
		trigger:        newTrigger(),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerReady)},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, noDeadLetterSink, subscriptionReady},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:        "Broker missing: BrokerReady False BrokerDoesNotExist, the subscriber resolved all the same, SubscriptionReady Unknown, no consumer, nothing to retry",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerName("other"), WithBrokerReady)},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, eventingv1.ReasonBrokerDoesNotExist),
			isFalse(eventingv1.TriggerConditionBroker, eventingv1.ReasonBrokerDoesNotExist),
			subscriberResolved,
			isUnknown(eventingv1.TriggerConditionDeadLetterSinkResolved, ""),
			isUnknown(eventingv1.TriggerConditionSubscription, eventingv1.ReasonBrokerDoesNotExist),
		},
		wantSubscriber: subscriberURL,
	}, {
		name:        "Broker being deleted: treated as missing, no consumer that would make its deleted stream again",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerReady, WithBrokerDeletionTimestamp)},
		wantOutcome: "done",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, eventingv1.ReasonBrokerDoesNotExist),
			isFalse(eventingv1.TriggerConditionBroker, eventingv1.ReasonBrokerDoesNotExist),
			subscriberResolved,
			isUnknown(eventingv1.TriggerConditionDeadLetterSinkResolved, ""),
			isUnknown(eventingv1.TriggerConditionSubscription, eventingv1.ReasonBrokerDoesNotExist),
		},
		wantSubscriber: subscriberURL,
	}, {
		name:        "Broker that has not reported a status yet: BrokerReady Unknown BrokerNotReady, consumer made",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker()},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, eventingv1.ReasonBrokerNotReady),
			isUnknown(eventingv1.TriggerConditionBroker, eventingv1.ReasonBrokerNotReady),
			subscriberResolved, noDeadLetterSink, subscriptionReady,
		},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:        "Broker waiting for the ingress: BrokerReady Unknown BrokerNotReady, consumer made",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerIngressNotReady)},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isUnknown(apis.ConditionReady, eventingv1.ReasonBrokerNotReady),
			isUnknown(eventingv1.TriggerConditionBroker, eventingv1.ReasonBrokerNotReady),
			subscriberResolved, noDeadLetterSink, subscriptionReady,
		},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:        "Broker failed: BrokerReady False BrokerFailed, consumer made",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerStreamFailed)},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, eventingv1.ReasonBrokerFailed),
			isFalse(eventingv1.TriggerConditionBroker, eventingv1.ReasonBrokerFailed),
			subscriberResolved, noDeadLetterSink, subscriptionReady,
		},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:           "subscriber referring to a Kubernetes Service: resolved to the Service's cluster-local name",
		trigger:        newTrigger(WithSubscriber(refDestination("v1", "Service", "display"))),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerReady)},
		sinks:          []runtime.Object{kubeService("display")},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, noDeadLetterSink, subscriptionReady},
		wantSubscriber: "http://" + network.GetServiceHostname("display", testNamespace),
		wantConsumer:   true,
	}, {
		name:           "subscriber referring to a Knative Service: resolved to its address",
		trigger:        newTrigger(WithSubscriber(refDestination("serving.knative.dev/v1", "Service", "display"))),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerReady)},
		sinks:          []runtime.Object{knativeService("display", "http://display.demo.example.com")},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, noDeadLetterSink, subscriptionReady},
		wantSubscriber: "http://display.demo.example.com",
		wantConsumer:   true,
	}, {
		name:        "subscriber referring to a missing Service: SubscriberResolved False Unresolved, the consumer keeps its events meanwhile",
		trigger:     newTrigger(WithSubscriber(refDestination("v1", "Service", "display"))),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerReady)},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, eventingv1.ReasonUnresolved),
			brokerReady,
			isFalse(eventingv1.TriggerConditionSubscriberResolved, eventingv1.ReasonUnresolved),
			noDeadLetterSink, subscriptionReady,
		},
		wantConsumer: true,
	}, {
		name:           "Trigger's own dead-letter sink: resolved, over the Broker's",
		trigger:        newTrigger(WithTriggerDelivery(deadLetterSink(uriDestination("http://trigger-dls.example.com")))),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerDelivery(deadLetterSink(uriDestination("http://broker-dls.example.com"))), WithBrokerReady, WithBrokerDeadLetterSinkURI("http://broker-dls.example.com"))},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, deadLetterResolved, subscriptionReady},
		wantSubscriber: subscriberURL,
		wantDLS:        "http://trigger-dls.example.com",
		wantConsumer:   true,
	}, {
		name:           "Trigger's own dead-letter sink referring to a Kubernetes Service: resolved to the Service's cluster-local name",
		trigger:        newTrigger(WithTriggerDelivery(deadLetterSink(refDestination("v1", "Service", "dls")))),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerReady)},
		sinks:          []runtime.Object{kubeService("dls")},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, deadLetterResolved, subscriptionReady},
		wantSubscriber: subscriberURL,
		wantDLS:        "http://" + network.GetServiceHostname("dls", testNamespace),
		wantConsumer:   true,
	}, {
		name:        "Trigger's own dead-letter sink referring to a missing Service: DeadLetterSinkResolved False Unresolved",
		trigger:     newTrigger(WithTriggerDelivery(deadLetterSink(refDestination("v1", "Service", "dls")))),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerReady)},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, eventingv1.ReasonUnresolved),
			brokerReady, subscriberResolved,
			isFalse(eventingv1.TriggerConditionDeadLetterSinkResolved, eventingv1.ReasonUnresolved),
			subscriptionReady,
		},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:           "no delivery of its own: the Broker's dead-letter sink, as the Broker resolved it",
		trigger:        newTrigger(),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerDelivery(deadLetterSink(refDestination("v1", "Service", "dls"))), WithBrokerReady, WithBrokerDeadLetterSinkURI("http://dls.demo.svc.cluster.local"))},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, deadLetterResolved, subscriptionReady},
		wantSubscriber: subscriberURL,
		wantDLS:        "http://dls.demo.svc.cluster.local",
		wantConsumer:   true,
	}, {
		name:        "no delivery of its own, Broker's dead-letter sink does not resolve: DeadLetterSinkResolved False Unresolved",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerDelivery(deadLetterSink(refDestination("v1", "Service", "dls"))), WithBrokerReady, WithBrokerDeadLetterSinkFailed)},
		wantOutcome: "requeue after 1m0s",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, eventingv1.ReasonUnresolved),
			isFalse(eventingv1.TriggerConditionBroker, eventingv1.ReasonBrokerFailed),
			subscriberResolved,
			isFalse(eventingv1.TriggerConditionDeadLetterSinkResolved, eventingv1.ReasonUnresolved),
			subscriptionReady,
		},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:           "delivery of its own without a dead-letter sink: replaces the Broker's whole, so none",
		trigger:        newTrigger(WithTriggerDelivery(&eventingv1.DeliverySpec{Retry: ptr.To[int32](3)})),
		brokers:        []*eventingv1.Broker{newBroker(WithBrokerDelivery(deadLetterSink(uriDestination("http://broker-dls.example.com"))), WithBrokerReady, WithBrokerDeadLetterSinkURI("http://broker-dls.example.com"))},
		wantOutcome:    "requeue after 1m0s",
		wantConditions: []cond{readyCond, brokerReady, subscriberResolved, noDeadLetterSink, subscriptionReady},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}, {
		name:        "Broker's delivery invalid (changed behind the webhook): SubscriptionReady False InvalidDelivery, no consumer, no retry",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerDelivery(badDelivery), WithBrokerReady)},
		wantOutcome: "permanent error: delivery spec: retry must not be negative, got -1",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, "InvalidDelivery"),
			brokerReady, subscriberResolved, noDeadLetterSink,
			isFalse(eventingv1.TriggerConditionSubscription, "InvalidDelivery"),
		},
		wantSubscriber: subscriberURL,
	}, {
		name:        "Trigger's own delivery invalid: SubscriptionReady False InvalidDelivery, no consumer, no retry",
		trigger:     newTrigger(WithTriggerDelivery(badDelivery)),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerReady)},
		wantOutcome: "permanent error: delivery spec: retry must not be negative, got -1",
		wantConditions: []cond{
			isFalse(apis.ConditionReady, "InvalidDelivery"),
			brokerReady, subscriberResolved, noDeadLetterSink,
			isFalse(eventingv1.TriggerConditionSubscription, "InvalidDelivery"),
		},
		wantSubscriber: subscriberURL,
	}, {
		name:        "consumer cannot be made: SubscriptionReady False ConsumerFailed, error to retry",
		trigger:     newTrigger(),
		brokers:     []*eventingv1.Broker{newBroker(WithBrokerReady)},
		errs:        map[string]error{"EnsureConsumer": errNATS},
		wantOutcome: "error: making the consumer of Trigger demo/display: " + errNATS.Error(),
		wantConditions: []cond{
			isFalse(apis.ConditionReady, "ConsumerFailed"),
			brokerReady, subscriberResolved, noDeadLetterSink,
			isFalse(eventingv1.TriggerConditionSubscription, "ConsumerFailed"),
		},
		wantSubscriber: subscriberURL,
		wantConsumer:   true,
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, uriResolver := newResolver(t, tc.sinks...)
			consumers := &fakeConsumers{errs: tc.errs}
			r := &Reconciler{
				consumers:    consumers,
				brokerLister: listers.NewBrokerLister(newIndexer(t, tc.brokers...)),
				uriResolver:  uriResolver,
			}
			trigger := tc.trigger.DeepCopy()

			got := outcome(r.ReconcileKind(ctx, trigger))

			if got != tc.wantOutcome {
				t.Errorf("ReconcileKind() = %s, want %s", got, tc.wantOutcome)
			}
			if d := cmp.Diff(tc.wantConditions, conditionsOf(trigger.Status.Status), sortConds); d != "" {
				t.Errorf("Conditions (-want, +got):\n%s", d)
			}
			if got := trigger.Status.SubscriberURI.String(); got != tc.wantSubscriber {
				t.Errorf("SubscriberURI = %q, want %q", got, tc.wantSubscriber)
			}
			if got := trigger.Status.DeadLetterSinkURI.String(); got != tc.wantDLS {
				t.Errorf("DeadLetterSinkURI = %q, want %q", got, tc.wantDLS)
			}
			var wantCalls []call
			if tc.wantConsumer {
				wantCalls = ensured(tc.trigger)
			}
			if d := cmp.Diff(wantCalls, consumers.calls); d != "" {
				t.Errorf("Consumers calls (-want, +got):\n%s", d)
			}
		})
	}
}

// TestConsumerDeliveryOrder checks what an ordered Trigger asks of
// JetStream: one event in flight at a time.
func TestConsumerDeliveryOrder(t *testing.T) {
	tests := []struct {
		name    string
		trigger *eventingv1.Trigger
		want    int
	}{{
		name:    "no delivery order: many events in flight",
		trigger: newTrigger(),
		want:    jetstream.DefaultMaxInFlight,
	}, {
		name:    "unordered: many events in flight",
		trigger: newTrigger(WithDeliveryOrder(eventing.DeliveryOrderUnordered)),
		want:    jetstream.DefaultMaxInFlight,
	}, {
		name:    "ordered: one event in flight",
		trigger: newTrigger(WithDeliveryOrder(eventing.DeliveryOrderOrdered)),
		want:    1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, uriResolver := newResolver(t)
			consumers := &fakeConsumers{}
			r := &Reconciler{
				consumers:    consumers,
				brokerLister: listers.NewBrokerLister(newIndexer(t, newBroker(WithBrokerReady))),
				uriResolver:  uriResolver,
			}

			if got := outcome(r.ReconcileKind(ctx, tc.trigger.DeepCopy())); got != "requeue after 1m0s" {
				t.Fatalf("ReconcileKind() = %s, want requeue after 1m0s", got)
			}
			if len(consumers.calls) != 1 || consumers.calls[0].Config == nil {
				t.Fatalf("Consumers calls = %+v, want one EnsureConsumer", consumers.calls)
			}
			cfg := consumers.calls[0].Config
			if cfg.MaxAckPending != tc.want {
				t.Errorf("MaxAckPending = %d, want %d", cfg.MaxAckPending, tc.want)
			}
			if want := jetstream.ConsumerName(testUID); cfg.Durable != want {
				t.Errorf("Durable = %q, want %q", cfg.Durable, want)
			}
		})
	}
}

func TestFinalizeKind(t *testing.T) {
	consumer := jetstream.ConsumerName(testUID)
	tests := []struct {
		name        string
		err         error // DeleteConsumer's
		wantOutcome string
	}{{
		name:        "consumer deleted",
		wantOutcome: "done",
	}, {
		name:        "NATS not configured: there is no consumer to delete",
		err:         jetstream.ErrNotConfigured,
		wantOutcome: "done",
	}, {
		name:        "consumer cannot be deleted: error to retry, the finalizer stays",
		err:         errNATS,
		wantOutcome: "error: " + errNATS.Error(),
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			consumers := &fakeConsumers{errs: map[string]error{"DeleteConsumer": tc.err}}
			r := &Reconciler{consumers: consumers}

			got := outcome(r.FinalizeKind(logtesting.TestContextWithLogger(t), newTrigger()))

			if got != tc.wantOutcome {
				t.Errorf("FinalizeKind() = %s, want %s", got, tc.wantOutcome)
			}
			want := []call{{Op: "DeleteConsumer", Broker: brokerKey, Consumer: consumer}}
			if d := cmp.Diff(want, consumers.calls); d != "" {
				t.Errorf("Consumers calls (-want, +got):\n%s", d)
			}
		})
	}
}
