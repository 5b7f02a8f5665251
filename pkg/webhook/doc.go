// Package webhook wires Flywheel's admission webhook: defaulting and
// validation for every API type, served through knative.dev/pkg/webhook,
// which also keeps the serving certificate and the webhook configurations'
// CA bundle up to date.
package webhook
