package webhook

import (
	"context"
	"flag"
	"log"

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
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/election"
	"flywheel.dev/pkg/webhook/names"
)

// Types lists every kind the webhook defaults and validates.
var Types = map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
	servingv1.SchemeGroupVersion.WithKind("Service"):                 &servingv1.Service{},
	servingv1.SchemeGroupVersion.WithKind("Configuration"):           &servingv1.Configuration{},
	servingv1.SchemeGroupVersion.WithKind("Revision"):                &servingv1.Revision{},
	servingv1.SchemeGroupVersion.WithKind("Route"):                   &servingv1.Route{},
	autoscalingv1alpha1.SchemeGroupVersion.WithKind("PodAutoscaler"): &autoscalingv1alpha1.PodAutoscaler{},
	eventingv1.SchemeGroupVersion.WithKind("Broker"):                 &eventingv1.Broker{},
	eventingv1.SchemeGroupVersion.WithKind("Trigger"):                &eventingv1.Trigger{},
	sourcesv1.SchemeGroupVersion.WithKind("PingSource"):              &sourcesv1.PingSource{},
	sourcesv1.SchemeGroupVersion.WithKind("ApiServerSource"):         &sourcesv1.ApiServerSource{},
	sourcesv1.SchemeGroupVersion.WithKind("SinkBinding"):             &sourcesv1.SinkBinding{},
	sourcesv1.SchemeGroupVersion.WithKind("ContainerSource"):         &sourcesv1.ContainerSource{},
}

// Main runs the webhook until the process is signalled. Besides --port it
// takes the standard knative.dev/pkg flags (--kubeconfig, --server).
func Main() {
	port := flag.Int("port", names.DefaultPort, "port to serve admission requests on, over HTTPS")
	// This parses the command line, so --port is read only after it.
	cfg := injection.ParseAndGetRESTConfigOrDie()
	// Its certificate and configuration reconcilers elect leaders as the
	// controller's do: a restart in its pod leads again at once.
	ctx, err := election.ForProcess(signals.NewContext(), cfg, "webhook")
	if err != nil {
		log.Fatal("Setting up leader election: ", err)
	}
	ctx = webhook.WithOptions(ctx, webhook.Options{
		ServiceName: names.ServiceName,
		SecretName:  names.SecretName,
		Port:        *port,
	})
	sharedmain.MainWithConfig(ctx, "webhook", cfg,
		certificates.NewController,
		NewDefaultingController,
		NewValidationController,
		NewSinkBindingController,
	)
}

// NewDefaultingController serves the defaulting webhook and keeps its
// MutatingWebhookConfiguration's rules and CA bundle current.
func NewDefaultingController(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
	store := newConfigStore(ctx, cmw)
	return defaulting.NewAdmissionController(ctx,
		names.DefaultingWebhookName, "/defaulting",
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
		names.ValidationWebhookName, "/resource-validation",
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
