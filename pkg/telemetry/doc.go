// Package telemetry is the one OpenTelemetry setup of Flywheel's own data
// plane components (gateway, activator, and those that follow): a meter
// and a tracer provider configured from the config-observability
// ConfigMap, with Knative's keys, and re-configured when it changes
// without re-creating a single instrument.
//
// The controller, webhook and autoscaler run in knative.dev/pkg's shared
// main, which reads the same ConfigMap with the same parser at start.
package telemetry
