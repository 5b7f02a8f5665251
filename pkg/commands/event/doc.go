// Package event holds `fw event`: send a CloudEvent to a Broker by name,
// through the API server from any machine with a kubeconfig, or to any
// URL, and show the answer.
package event
