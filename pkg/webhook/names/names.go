// Package names holds the names of the objects in config/core that the
// webhook serves and keeps up to date, and its port: what the manifests,
// the webhook and local mode must agree on. It imports nothing, so that
// local mode can name the webhook without linking it.
package names

const (
	// ServiceName is the Service in front of the webhook pods.
	ServiceName = "flywheel-webhook"
	// SecretName holds the serving certificate the webhook makes itself.
	SecretName = "flywheel-webhook-certs"
	// DefaultingWebhookName names the MutatingWebhookConfiguration and its
	// one webhook.
	DefaultingWebhookName = "webhook.serving.flywheel.dev"
	// ValidationWebhookName names the ValidatingWebhookConfiguration and its
	// one webhook.
	ValidationWebhookName = "validation.webhook.serving.flywheel.dev"
	// DefaultPort is where the webhook serves HTTPS.
	DefaultPort = 8443
)
