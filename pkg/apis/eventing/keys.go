package eventing

import "flywheel.dev/pkg/apis/serving"

// GroupName is the API group of Broker and Trigger.
const GroupName = "eventing.knative.dev"

// Annotations of Brokers and Triggers.
const (
	// BrokerClassAnnotation names the implementation that serves a Broker.
	// Flywheel serves every Broker whatever its class, and defaults the
	// annotation to BrokerClass so that `kn broker describe` shows it.
	BrokerClassAnnotation serving.AnnotationKey = GroupName + "/broker.class"
	// DeliveryOrderAnnotation on a Trigger asks for its events one at a
	// time, in the order the Broker stored them, when set to
	// DeliveryOrderOrdered. Knative's Kafka broker offers the same under
	// its own key.
	DeliveryOrderAnnotation serving.AnnotationKey = "flywheel.dev/delivery-order"
)

// BrokerClass is Flywheel's Broker class: every event stored in NATS
// JetStream before the Broker answers 202.
const BrokerClass = "JetStream"

// Values of DeliveryOrderAnnotation.
const (
	DeliveryOrderOrdered   = "ordered"
	DeliveryOrderUnordered = "unordered"
)

// BrokerLabel on a Trigger names its Broker, so that the Triggers of one
// Broker can be listed by label, as in Knative.
const BrokerLabel serving.LabelKey = GroupName + "/broker"
