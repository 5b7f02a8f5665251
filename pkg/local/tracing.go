package local

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"flywheel.dev/config"
)

// Tracing in local mode (Options.Tracing): config/tracing's Jaeger runs
// as a pod beside the components, which send it every trace.
const (
	// jaegerName names Jaeger's Deployment, Service and container (its
	// executable in the control plane's directory).
	jaegerName = "jaeger"
	// JaegerUIAddress is where Jaeger's UI and query API are on the host
	// (the hostPort of config/tracing).
	JaegerUIAddress = "127.0.0.1:16686"
	// observabilityConfigMap is config/core's config-observability, and
	// the keys of it local tracing sets: pkg/telemetry's, named here so
	// that the fw command does not link the exporters.
	observabilityConfigMap = "config-observability"
	keyTracingProtocol     = "tracing-protocol"
	keyTracingEndpoint     = "tracing-endpoint"
	keyTracingSamplingRate = "tracing-sampling-rate"
)

// jaegerEndpoint is the OTLP/gRPC receiver of config/tracing's Service.
var jaegerEndpoint = fmt.Sprintf("http://%s.%s.svc:4317", jaegerName, SystemNamespace)

// tracingObjects returns config/tracing's objects, and points the
// config-observability of objs (config/core's) at them: OTLP over gRPC,
// every trace sampled, as a developer looking at one request wants.
func tracingObjects(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	tracing, err := config.Manifests(config.Tracing)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetNamespace() != SystemNamespace || o.GetName() != observabilityConfigMap {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		if data == nil {
			data = map[string]string{}
		}
		data[keyTracingProtocol] = "grpc"
		data[keyTracingEndpoint] = jaegerEndpoint
		data[keyTracingSamplingRate] = "1"
		if err := unstructured.SetNestedStringMap(o.Object, data, "data"); err != nil {
			return nil, err
		}
		return tracing, nil
	}
	return nil, fmt.Errorf("config/core has no ConfigMap %s/%s to point at Jaeger", SystemNamespace, observabilityConfigMap)
}

// removeTracing deletes what an earlier fw local up --tracing left in a
// kept cluster: without the flag nothing extra runs. config-observability
// is applied anew from config/core, tracing off, before.
func removeTracing(ctx context.Context, kube kubernetes.Interface) error {
	if err := kube.AppsV1().Deployments(SystemNamespace).Delete(ctx, jaegerName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the Jaeger of an earlier --tracing: %w", err)
	}
	if err := kube.CoreV1().Services(SystemNamespace).Delete(ctx, jaegerName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the Jaeger of an earlier --tracing: %w", err)
	}
	return nil
}
