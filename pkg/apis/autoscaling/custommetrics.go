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

// The custom metrics the autoscaler serves of a Revision itself (the
// resource revisions.serving.knative.dev), by name only, for `fw service
// describe`: its load, and how its cold starts went over the last hour.
// ConcurrencyMetric and RequestsPerSecondMetric of a Revision are its
// totals over its pods.
const (
	// ColdStartsMetric is how many times the Revision was woken from no
	// ready pod in the last hour.
	ColdStartsMetric = "cold-starts"
	// ColdStartP50Metric and ColdStartP95Metric are the median and 95th
	// percentile, in seconds, of how long the request that woke the
	// Revision waited for its response to start, over the same hour.
	ColdStartP50Metric = "cold-start-p50"
	ColdStartP95Metric = "cold-start-p95"
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
