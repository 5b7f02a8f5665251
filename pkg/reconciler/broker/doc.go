// Package broker reconciles Brokers: it keeps each Broker's JetStream
// stream, gives the Broker the ingress's address, resolves its dead-letter
// sink, and deletes the stream when the Broker goes.
package broker
