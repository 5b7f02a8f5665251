// Package jetstream keeps Brokers and Triggers in NATS JetStream: a stream
// per Broker and a durable consumer per Trigger, both derived from the
// objects and made again whenever they are missing, and the encoding of an
// event as a stored message. The controller, the ingress and the
// dispatcher all go through it, so that they agree on every name and
// setting.
package jetstream
