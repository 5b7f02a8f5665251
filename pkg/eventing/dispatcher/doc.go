// Package dispatcher delivers a Broker's stored events to its Triggers'
// subscribers: one subscription per ready Trigger, each consuming the
// Trigger's durable JetStream consumer, filtering, delivering with the
// Trigger's DeliverySpec (pkg/eventing/delivery), storing replies back in
// the Broker, and acknowledging an event only once the subscriber or the
// dead-letter sink took it.
package dispatcher
