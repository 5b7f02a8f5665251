package telemetry

import (
	"context"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Environment variables a component's Deployment sets from the downward
// API, as Knative's do.
const (
	// NamespaceEnv is the component's namespace, where ConfigMapName is.
	NamespaceEnv = "SYSTEM_NAMESPACE"
	// PodNameEnv is the component's pod, on every series and span.
	PodNameEnv = "POD_NAME"
)

// Start makes the Telemetry of a component running as a pod: its
// resource names the pod and namespace from the environment, and it is
// kept configured from ConfigMapName in that namespace until ctx ends.
// Outside a pod (no NamespaceEnv) it keeps DefaultConfig.
func Start(ctx context.Context, component string, restConfig *rest.Config, log *slog.Logger) (*Telemetry, error) {
	namespace := os.Getenv(NamespaceEnv)
	var attrs []attribute.KeyValue
	if pod := os.Getenv(PodNameEnv); pod != "" {
		attrs = append(attrs, attribute.String("k8s.pod.name", pod))
	}
	if namespace != "" {
		attrs = append(attrs, attribute.String("k8s.namespace.name", namespace))
	}
	t, err := New(ctx, component, DefaultConfig(), log, attrs...)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		t.Logger().Info("no " + NamespaceEnv + ": observability keeps its defaults, not reading " + ConfigMapName)
		return t, nil
	}
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		_ = t.Shutdown(context.Background())
		return nil, err
	}
	Watch(ctx, t, kube, namespace)
	return t, nil
}
