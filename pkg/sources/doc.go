// Package sources holds what Flywheel's event sources share: the binding
// contract a SinkBinding injects into a pod (K_SINK, K_CE_OVERRIDES), and
// a Sender that posts a source's events to its sink with retries and
// applies its CloudEvents overrides. The PingSource and ApiServerSource
// adapters send through it; a ContainerSource's own container reads the
// same variables.
package sources
