package autoscaling

import (
	"testing"

	"flywheel.dev/pkg/apis/serving"
)

func TestCustomMetricFor(t *testing.T) {
	tests := []struct {
		annotation string
		want       string
		wantOK     bool
	}{
		{annotation: serving.MetricConcurrency, want: ConcurrencyMetric, wantOK: true},
		{annotation: serving.MetricRPS, want: RequestsPerSecondMetric, wantOK: true},
		{annotation: serving.MetricCPU},
		{annotation: ""},
	}
	for _, tt := range tests {
		got, ok := CustomMetricFor(tt.annotation)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("CustomMetricFor(%q) = %q, %v; want %q, %v", tt.annotation, got, ok, tt.want, tt.wantOK)
		}
	}
}
