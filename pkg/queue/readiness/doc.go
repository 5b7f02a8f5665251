// Package readiness runs the app's readiness probe inside the queue-proxy
// sidecar: fast at start-up, so that a cold pod takes traffic as soon as
// the app listens, then at the probe's own period.
package readiness
