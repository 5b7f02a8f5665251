// Package resources builds the objects a Revision owns (its Deployment
// with the queue-proxy sidecar, its PodAutoscaler and its Services) as
// pure functions of the Revision and the configuration, so each can be
// tested alone.
package resources
