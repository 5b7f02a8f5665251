// Package telemetry is the one OpenTelemetry setup of Flywheel's own data
// plane components (gateway, activator, broker ingress and dispatcher):
// the providers of package providers, kept configured from the
// config-observability ConfigMap of the system namespace (Start, Watch).
// Its names for the providers' types and functions are aliases, so that
// a component needs one import.
//
// The queue-proxy sidecar uses package providers alone: it cannot read
// the ConfigMap, and gets its values from the Revision reconciler.
//
// The controller, webhook and autoscaler run in knative.dev/pkg's shared
// main, which reads the same ConfigMap with the same parser at start.
package telemetry
