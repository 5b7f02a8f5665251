package local

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"flywheel.dev/config"
	"flywheel.dev/pkg/telemetry"
)

func TestTracingPointsEveryComponentAtJaeger(t *testing.T) {
	core, err := config.Manifests(config.Core)
	if err != nil {
		t.Fatal(err)
	}
	tracing, err := tracingObjects(core)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range tracing {
		if o.GetName() == jaegerName && o.GetNamespace() == SystemNamespace {
			kinds[o.GetKind()] = true
		}
	}
	if !kinds["Deployment"] || !kinds["Service"] {
		t.Errorf("config/tracing has %v, want Jaeger's Deployment and Service in %s", kinds, SystemNamespace)
	}
	// Its executable is the control plane directory's jaeger.
	images, err := localImages(tracing, t.TempDir())
	if err == nil {
		t.Errorf("localImages found Jaeger's executable in an empty directory: %v", images)
	}

	// The keys are pkg/telemetry's, and what they say parses as the
	// components will read it.
	if keyTracingProtocol != telemetry.KeyTracingProtocol || keyTracingEndpoint != telemetry.KeyTracingEndpoint ||
		keyTracingSamplingRate != telemetry.KeyTracingSamplingRate || observabilityConfigMap != telemetry.ConfigMapName {
		t.Fatal("local's names of config-observability's keys differ from pkg/telemetry's")
	}
	for _, o := range core {
		if o.GetKind() != "ConfigMap" || o.GetName() != observabilityConfigMap {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		cfg, err := telemetry.ParseConfig(data)
		if err != nil {
			t.Fatalf("config-observability pointed at Jaeger does not parse: %v\n%v", err, data)
		}
		if cfg.Tracing.Protocol != "grpc" || cfg.Tracing.Endpoint != jaegerEndpoint || cfg.Tracing.SamplingRate != 1 {
			t.Errorf("tracing %+v, want every trace over OTLP/gRPC to %s", cfg.Tracing, jaegerEndpoint)
		}
		if cfg.Metrics.Protocol != "prometheus" {
			t.Errorf("metrics %+v, want Prometheus left as it was", cfg.Metrics)
		}
		return
	}
	t.Fatal("config/core has no config-observability")
}
