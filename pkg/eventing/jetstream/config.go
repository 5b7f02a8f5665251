package jetstream

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// DuplicateWindow is how long the stream remembers an event's source and
// id: a producer that retries an event it already had stored within it
// (its 202 lost on the way) does not store it twice.
const DuplicateWindow = 2 * time.Minute

// StreamConfig is a Broker's stream. It keeps an event until every
// Trigger's consumer acknowledged it, so storage holds what is still to
// be delivered, not history: Trim, run every TrimPeriod, purges what all
// have acknowledged (limits retention with no limits otherwise, rather
// than interest retention, whose per-event cost Trim explains). A Broker
// without Triggers accepts events and keeps none, as in Knative. File
// storage survives a restart of NATS. When the server's storage is full,
// new events are refused (the ingress answers 503) rather than old ones
// dropped.
func StreamConfig(broker types.NamespacedName) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName(broker),
		Description: "Broker " + broker.String(),
		Subjects:    []string{Subject(broker)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		Duplicates:  DuplicateWindow,
		Replicas:    1,
	}
}

// Defaults of a Trigger's consumer.
const (
	// DefaultMaxInFlight bounds the events of one Trigger being delivered
	// at once (across dispatcher replicas: JetStream counts them).
	DefaultMaxInFlight = 256
	// AckWait is how long an event handed to a dispatcher stays its own
	// without word from it; then JetStream hands it to another (or to the
	// same, restarted). A dispatcher working on an event for longer says
	// so every InProgressInterval, so that a slow subscriber is not
	// given the event twice, while a dispatcher killed mid-delivery loses
	// no more than this much time.
	AckWait = 20 * time.Second
	// InProgressInterval is how often a dispatcher renews its claim on
	// an event it is still delivering.
	InProgressInterval = 5 * time.Second
)

// ConsumerConfig is a Trigger's durable consumer. An ordered Trigger gets
// one event at a time.
func ConsumerConfig(t *eventingv1.Trigger) jetstream.ConsumerConfig {
	maxInFlight := DefaultMaxInFlight
	if Ordered(t) {
		maxInFlight = 1
	}
	return jetstream.ConsumerConfig{
		Durable:     ConsumerName(t.UID),
		Description: "Trigger " + t.Namespace + "/" + t.Name,
		// A new Trigger gets the events stored from now on, as a
		// subscription in Knative does.
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		// The dispatcher decides when an event has failed for good
		// (DeliverySpec.retry); JetStream redelivers until then.
		MaxDeliver:    -1,
		MaxAckPending: maxInFlight,
	}
}

// Ordered reports whether a Trigger asks for ordered delivery.
func Ordered(t *eventingv1.Trigger) bool {
	v, _ := eventing.DeliveryOrderAnnotation.Get(t.Annotations)
	return v == eventing.DeliveryOrderOrdered
}
