package custommetrics

import (
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
)

// revisionsResource is the resource of the metrics of a Revision itself.
var revisionsResource = schema.GroupResource{Group: serving.GroupName, Resource: "revisions"}

// revisionMetrics are the metrics served of a Revision, in the order
// ListAllMetrics gives them.
var revisionMetrics = []string{
	autoscaling.ConcurrencyMetric, autoscaling.RequestsPerSecondMetric,
	autoscaling.ColdStartsMetric, autoscaling.ColdStartP50Metric, autoscaling.ColdStartP95Metric,
}

// revisionMetric answers a metric of the Revision rev: its load over its
// window, summed over its pods, or its cold starts over the last hour. A
// figure with nothing behind it (no load recorded in the window, a
// percentile of no cold start) is the API's NotFound; a count of cold
// starts is always there, zero for a Revision never woken.
func (p *Provider) revisionMetric(rev types.NamespacedName, info provider.CustomMetricInfo) (*custom_metrics.MetricValue, error) {
	now := p.clock.Now()
	var value float64
	var window time.Duration
	switch info.Metric {
	case autoscaling.ConcurrencyMetric, autoscaling.RequestsPerSecondMetric:
		window = p.window(rev)
		total, ok := p.figures.Average(rev, figureOf[info.Metric], now, window)
		if !ok {
			return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, rev.Name)
		}
		value = total
	case autoscaling.ColdStartsMetric, autoscaling.ColdStartP50Metric, autoscaling.ColdStartP95Metric:
		window = metrics.ColdStartWindow
		cs := p.figures.ColdStarts(rev, now)
		switch info.Metric {
		case autoscaling.ColdStartsMetric:
			value = float64(cs.Count)
		case autoscaling.ColdStartP50Metric:
			value = cs.P50.Seconds()
		default:
			value = cs.P95.Seconds()
		}
		if cs.Count == 0 && info.Metric != autoscaling.ColdStartsMetric {
			return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, rev.Name)
		}
	default:
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	seconds := int64(window / time.Second)
	return &custom_metrics.MetricValue{
		DescribedObject: custom_metrics.ObjectReference{
			APIVersion: serving.GroupName + "/v1",
			Kind:       "Revision",
			Namespace:  rev.Namespace,
			Name:       rev.Name,
		},
		Metric:        custom_metrics.MetricIdentifier{Name: info.Metric},
		Timestamp:     metav1.NewTime(now),
		WindowSeconds: &seconds,
		Value:         *resource.NewMilliQuantity(int64(math.Round(value*1000)), resource.DecimalSI),
	}, nil
}
