package revision

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/telemetry"
)

func TestObservabilityForTheSidecars(t *testing.T) {
	cm := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: telemetry.ConfigMapName}, Data: data}
	}
	for _, tc := range []struct {
		name string
		data map[string]string
		want *queue.Observability
	}{{
		name: "none set: the sidecar's defaults",
		data: map[string]string{},
		want: &queue.Observability{},
	}, {
		name: "prometheus: the system components' address is not the sidecar's",
		data: map[string]string{telemetry.KeyMetricsProtocol: "prometheus", telemetry.KeyMetricsEndpoint: ":9095"},
		want: &queue.Observability{MetricsProtocol: "prometheus"},
	}, {
		name: "OTLP metrics and traces, copied as written",
		data: map[string]string{
			telemetry.KeyMetricsProtocol: "grpc", telemetry.KeyMetricsEndpoint: "http://collector:4317", telemetry.KeyMetricsExportInterval: "30s",
			telemetry.KeyTracingProtocol: "http/protobuf", telemetry.KeyTracingEndpoint: "http://collector:4318/v1/traces", telemetry.KeyTracingSamplingRate: "0.25",
			"_example": "ignored",
		},
		want: &queue.Observability{
			MetricsProtocol: "grpc", MetricsEndpoint: "http://collector:4317", MetricsExportInterval: "30s",
			TracingProtocol: "http/protobuf", TracingEndpoint: "http://collector:4318/v1/traces", TracingSamplingRate: "0.25",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newObservabilityFromConfigMap(cm(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("observability (-want, +got):\n%s", diff)
			}
		})
	}
	// A version every other component would refuse never reaches a pod.
	if _, err := newObservabilityFromConfigMap(cm(map[string]string{telemetry.KeyTracingProtocol: "zipkin"})); err == nil {
		t.Error("tracing-protocol zipkin was taken, want an error")
	}
}
