package webhook

import (
	"context"
	"flag"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/signals"
	"knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/certificates"
	"knative.dev/pkg/webhook/resourcesemantics"
	"knative.dev/pkg/webhook/resourcesemantics/defaulting"
	"knative.dev/pkg/webhook/resourcesemantics/validation"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/apis/config"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

// Names of the objects in config/core that this webhook serves and keeps
// up to date. The manifests and the code must agree on them.
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

// Types lists every kind the webhook defaults and validates.
var Types = map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
	servingv1.SchemeGroupVersion.WithKind("Service"):                 &servingv1.Service{},
	servingv1.SchemeGroupVersion.WithKind("Configuration"):           &servingv1.Configuration{},
	servingv1.SchemeGroupVersion.WithKind("Revision"):                &servingv1.Revision{},
	servingv1.SchemeGroupVersion.WithKind("Route"):                   &servingv1.Route{},
	autoscalingv1alpha1.SchemeGroupVersion.WithKind("PodAutoscaler"): &autoscalingv1alpha1.PodAutoscaler{},
}

// Main runs the webhook until the process is signalled. Besides --port it
// takes the standard knative.dev/pkg flags (--kubeconfig, --server).
func Main() {
	port := flag.Int("port", DefaultPort, "port to serve admission requests on, over HTTPS")
	// This parses the command line, so --port is read only after it.
	cfg := injection.ParseAndGetRESTConfigOrDie()
	ctx := webhook.WithOptions(signals.NewContext(), webhook.Options{
		ServiceName: ServiceName,
		SecretName:  SecretName,
		Port:        *port,
	})
	sharedmain.MainWithConfig(ctx, "webhook", cfg,
		certificates.NewController,
		NewDefaultingController,
		NewValidationController,
	)
}

// NewDefaultingController serves the defaulting webhook and keeps its
// MutatingWebhookConfiguration's rules and CA bundle current.
func NewDefaultingController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	store := newConfigStore(ctx, cmw)
	return defaulting.NewAdmissionController(ctx,
		DefaultingWebhookName, "/defaulting",
		Types,
		store.ToContext,
		// Unknown fields are refused rather than silently dropped, so a
		// typo in a manifest is an error the user sees, not lost data.
		true,
	)
}

// NewValidationController serves the validation webhook and keeps its
// ValidatingWebhookConfiguration's rules and CA bundle current.
func NewValidationController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	store := newConfigStore(ctx, cmw)
	return validation.NewAdmissionController(ctx,
		ValidationWebhookName, "/resource-validation",
		Types,
		store.ToContext,
		true,
	)
}

// newConfigStore watches the ConfigMaps whose values decide defaults and
// bounds (config-defaults, config-features, config-autoscaler), so a change
// applies to the next request without a restart.
func newConfigStore(ctx context.Context, cmw configmap.Watcher) *config.Store {
	store := config.NewStore(logging.FromContext(ctx).Named("config-store"))
	store.WatchConfigs(cmw)
	return store
}
