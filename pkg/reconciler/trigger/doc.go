// Package trigger reconciles Triggers: it finds the Broker, resolves the
// subscriber and the dead-letter sink, keeps the Trigger's durable
// JetStream consumer, and deletes the consumer when the Trigger goes.
package trigger
