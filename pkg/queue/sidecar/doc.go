// Package sidecar assembles the queue-proxy: the request chain in front of
// the app, the readiness and health endpoints, and the servers with their
// drain on termination. cmd/queue runs it.
package sidecar
