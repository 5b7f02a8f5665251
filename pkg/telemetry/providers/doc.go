// Package providers is the OpenTelemetry setup of Flywheel's own data
// plane components: a meter and a tracer provider configured with
// config-observability's keys, and re-configured when they change
// without re-creating a single instrument. It holds no Kubernetes
// client, so that the queue-proxy, which gets the ConfigMap's values as
// environment, links it without client-go; package telemetry adds the
// watch of the ConfigMap for the components in the system namespace.
package providers
