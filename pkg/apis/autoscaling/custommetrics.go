package autoscaling

import "flywheel.dev/pkg/apis/serving"

// The custom metrics (custom.metrics.k8s.io) the autoscaler serves for the
// HPA class, by the names an HPA's Pods metric gives them. The HPA
// reconciler writes them and the autoscaler's metrics API serves them;
// both read them here, so that neither links the other.
const (
	// ConcurrencyMetric is a pod's share of its Revision's average
	// number of requests in flight.
	ConcurrencyMetric = "concurrency"
	// RequestsPerSecondMetric is a pod's share of its Revision's
	// requests per second.
	RequestsPerSecondMetric = "requests-per-second"
)

// CustomMetricFor returns the custom metric that measures what a
// Revision's autoscaling.knative.dev/metric annotation names
// (serving.MetricConcurrency or serving.MetricRPS), and false for one the
// custom metrics API does not serve (cpu and memory are the resource
// metrics API's).
func CustomMetricFor(annotation string) (string, bool) {
	switch annotation {
	case serving.MetricConcurrency:
		return ConcurrencyMetric, true
	case serving.MetricRPS:
		return RequestsPerSecondMetric, true
	}
	return "", false
}
