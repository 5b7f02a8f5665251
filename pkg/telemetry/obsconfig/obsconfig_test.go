package obsconfig

import (
	"strings"
	"testing"

	"knative.dev/pkg/observability/metrics"
	"knative.dev/pkg/observability/tracing"
)

// The keys' values tried, each alone and with the others: knative.dev/pkg
// and this package must take and refuse the same, and read the same.
var (
	metricsData = []map[string]string{
		{},
		{KeyMetricsProtocol: "prometheus"},
		{KeyMetricsProtocol: " prometheus ", KeyMetricsEndpoint: ":9091"},
		{KeyMetricsProtocol: "grpc", KeyMetricsEndpoint: "http://collector:4317"},
		{KeyMetricsProtocol: "grpc"},
		{KeyMetricsProtocol: "http/protobuf", KeyMetricsEndpoint: "http://collector:4318/v1/metrics", KeyMetricsExportInterval: "15s"},
		{KeyMetricsProtocol: "none", KeyMetricsEndpoint: "http://collector:4317"},
		{KeyMetricsProtocol: "none"},
		{KeyMetricsProtocol: "zipkin"},
		{KeyMetricsProtocol: "Prometheus"},
		{KeyMetricsProtocol: "prometheus", KeyMetricsExportInterval: "-1s"},
		{KeyMetricsProtocol: "prometheus", KeyMetricsExportInterval: "ten"},
		{KeyMetricsProtocol: "prometheus", KeyMetricsExportInterval: "0"},
		{KeyMetricsProtocol: ""},
	}
	tracingData = []map[string]string{
		{},
		{KeyTracingProtocol: "none"},
		{KeyTracingProtocol: "stdout"},
		{KeyTracingProtocol: "stdout", KeyTracingEndpoint: "http://x"},
		{KeyTracingProtocol: "grpc", KeyTracingEndpoint: "http://collector:4317", KeyTracingSamplingRate: "0.25"},
		{KeyTracingProtocol: "grpc"},
		{KeyTracingProtocol: "http/protobuf", KeyTracingEndpoint: "http://collector:4318/v1/traces", KeyTracingSamplingRate: "1"},
		{KeyTracingProtocol: "http/protobuf", KeyTracingEndpoint: "e", KeyTracingSamplingRate: "1.5"},
		{KeyTracingProtocol: "http/protobuf", KeyTracingEndpoint: "e", KeyTracingSamplingRate: "-0.1"},
		{KeyTracingProtocol: "http/protobuf", KeyTracingEndpoint: "e", KeyTracingSamplingRate: "half"},
		{KeyTracingProtocol: "none", KeyTracingSamplingRate: "0"},
		{KeyTracingProtocol: "jaeger"},
		{KeyTracingProtocol: " stdout "},
	}
)

func TestMetricsAreReadAsKnativeReadsThem(t *testing.T) {
	for _, data := range metricsData {
		ours, ourErr := ParseMetrics(data)
		theirs, theirErr := metrics.NewFromMap(data)
		if (ourErr == nil) != (theirErr == nil) {
			t.Errorf("%v: error %v, knative.dev/pkg's %v", data, ourErr, theirErr)
			continue
		}
		if ourErr != nil {
			if !strings.Contains(ourErr.Error(), "metrics-") {
				t.Errorf("%v: error %q names no key", data, ourErr)
			}
			continue
		}
		if ours != (Metrics{Protocol: theirs.Protocol, Endpoint: theirs.Endpoint, ExportInterval: theirs.ExportInterval}) {
			t.Errorf("%v: read %+v, knative.dev/pkg %+v", data, ours, theirs)
		}
	}
}

func TestTracingIsReadAsKnativeReadsIt(t *testing.T) {
	for _, data := range tracingData {
		ours, ourErr := ParseTracing(data)
		theirs, theirErr := tracing.NewFromMap(data)
		if (ourErr == nil) != (theirErr == nil) {
			t.Errorf("%v: error %v, knative.dev/pkg's %v", data, ourErr, theirErr)
			continue
		}
		if ourErr != nil {
			if !strings.Contains(ourErr.Error(), "tracing-") {
				t.Errorf("%v: error %q names no key", data, ourErr)
			}
			continue
		}
		if ours != (Tracing{Protocol: theirs.Protocol, Endpoint: theirs.Endpoint, SamplingRate: theirs.SamplingRate}) {
			t.Errorf("%v: read %+v, knative.dev/pkg %+v", data, ours, theirs)
		}
	}
}

// knative.dev/pkg takes a sampling rate of NaN (neither below 0 nor
// above 1); a share it is not.
func TestTracingRefusesANaNSamplingRate(t *testing.T) {
	_, err := ParseTracing(map[string]string{KeyTracingProtocol: "grpc", KeyTracingEndpoint: "http://c:4317", KeyTracingSamplingRate: "NaN"})
	if err == nil || !strings.Contains(err.Error(), KeyTracingSamplingRate) {
		t.Errorf("error %v, want one naming %s", err, KeyTracingSamplingRate)
	}
}
