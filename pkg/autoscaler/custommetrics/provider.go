package custommetrics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	"k8s.io/utils/clock"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
)

// figureOf maps each metric served to the Collector's figure behind it.
var figureOf = map[string]metrics.Figure{
	autoscaling.ConcurrencyMetric:       metrics.Concurrency,
	autoscaling.RequestsPerSecondMetric: metrics.RPS,
}

// podsResource is the one resource the metrics describe.
var podsResource = corev1.Resource("pods")

// DefaultWindow is the window figures are averaged over when no
// WindowFunc is given: the default stable window of config-autoscaler.
const DefaultWindow = 60 * time.Second

// Figures is the source of the Revisions' load: metrics.Collector.
type Figures interface {
	// Average returns the Revision's total (over all its pods) average
	// of f over window, ending at now; false when nothing was recorded.
	Average(rev types.NamespacedName, f metrics.Figure, now time.Time, window time.Duration) (float64, bool)
	// ColdStarts sums up the Revision's cold starts of the
	// metrics.ColdStartWindow before now.
	ColdStarts(rev types.NamespacedName, now time.Time) metrics.ColdStarts
}

// WindowFunc returns the window a Revision's figures are averaged over.
type WindowFunc func(rev types.NamespacedName) time.Duration

// FixedWindow returns a WindowFunc that gives every Revision window.
func FixedWindow(window time.Duration) WindowFunc {
	return func(types.NamespacedName) time.Duration { return window }
}

// Provider serves the Revisions' load figures as the Pods metrics
// autoscaling.ConcurrencyMetric and autoscaling.RequestsPerSecondMetric.
// It is safe for concurrent use as long as its Figures and pod lister are.
type Provider struct {
	figures Figures
	pods    corev1listers.PodLister
	window  WindowFunc
	clock   clock.PassiveClock
}

var _ provider.CustomMetricsProvider = (*Provider)(nil)

// NewProvider returns a Provider that reads load from figures, finds a
// Revision's pods through pods (by their serving.RevisionLabel),
// averages over window's duration for each Revision (DefaultWindow for
// all when window is nil; the Revision's stable window keeps the HPA
// class on the load the built-in class would see) and stamps values
// with clk's time.
func NewProvider(figures Figures, pods corev1listers.PodLister, window WindowFunc, clk clock.PassiveClock) *Provider {
	if window == nil {
		window = FixedWindow(DefaultWindow)
	}
	return &Provider{figures: figures, pods: pods, window: window, clock: clk}
}

// ListAllMetrics returns the metrics served: two of pods, and those of
// Revisions.
func (p *Provider) ListAllMetrics() []provider.CustomMetricInfo {
	infos := make([]provider.CustomMetricInfo, 0, len(figureOf)+len(revisionMetrics))
	for _, name := range []string{autoscaling.ConcurrencyMetric, autoscaling.RequestsPerSecondMetric} {
		infos = append(infos, provider.CustomMetricInfo{GroupResource: podsResource, Namespaced: true, Metric: name})
	}
	for _, name := range revisionMetrics {
		infos = append(infos, provider.CustomMetricInfo{GroupResource: revisionsResource, Namespaced: true, Metric: name})
	}
	return infos
}

// GetMetricByName returns the metric's value for one pod: its share of
// its Revision's figure. A pod that is not ready, belongs to no
// Revision, or whose Revision has nothing recorded over its window has
// none, and the answer is the API's NotFound.
func (p *Provider) GetMetricByName(_ context.Context, name types.NamespacedName, info provider.CustomMetricInfo, metricSelector labels.Selector) (*custom_metrics.MetricValue, error) {
	if info.GroupResource == revisionsResource && info.Namespaced && metricSelector.Empty() {
		return p.revisionMetric(name, info)
	}
	figure, err := figureFor(info)
	if err != nil {
		return nil, err
	}
	// The metrics carry no labels: a selector either matches them all
	// or none.
	if !metricSelector.Matches(labels.Set{}) {
		return nil, provider.NewMetricNotFoundForSelectorError(info.GroupResource, info.Metric, name.Name, metricSelector)
	}
	pod, err := p.pods.Pods(name.Namespace).Get(name.Name)
	if apierrors.IsNotFound(err) {
		return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("getting pod %s: %w", name, err)
	}
	id, err := identifier(info.Metric, metricSelector)
	if err != nil {
		return nil, err
	}
	q := p.newQuery(figure)
	v, ok, err := q.perPod(pod)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, provider.NewMetricNotFoundForError(info.GroupResource, info.Metric, name.Name)
	}
	mv := q.value(pod, id, v)
	return &mv, nil
}

// GetMetricBySelector returns the metric's value for each pod in the
// namespace that selector matches and that has one (see
// GetMetricByName), ordered by pod name. When none has, the answer is
// the API's NotFound rather than an empty list, so that the HPA's
// condition and `kubectl get --raw` say which metric is missing.
func (p *Provider) GetMetricBySelector(_ context.Context, namespace string, selector labels.Selector, info provider.CustomMetricInfo, metricSelector labels.Selector) (*custom_metrics.MetricValueList, error) {
	figure, err := figureFor(info)
	if err != nil {
		return nil, err
	}
	if !metricSelector.Matches(labels.Set{}) {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	pods, err := p.pods.Pods(namespace).List(selector)
	if err != nil {
		return nil, fmt.Errorf("listing pods in %q by %q: %w", namespace, selector, err)
	}
	id, err := identifier(info.Metric, metricSelector)
	if err != nil {
		return nil, err
	}
	q := p.newQuery(figure)
	list := &custom_metrics.MetricValueList{}
	for _, pod := range pods {
		v, ok, err := q.perPod(pod)
		if err != nil {
			return nil, err
		}
		if ok {
			list.Items = append(list.Items, q.value(pod, id, v))
		}
	}
	if len(list.Items) == 0 {
		return nil, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	slices.SortFunc(list.Items, func(a, b custom_metrics.MetricValue) int {
		return strings.Compare(a.DescribedObject.Name, b.DescribedObject.Name)
	})
	return list, nil
}

// figureFor returns the figure behind a metric of pods, or the API's
// NotFound for any other metric or resource.
func figureFor(info provider.CustomMetricInfo) (metrics.Figure, error) {
	figure, ok := figureOf[info.Metric]
	if !ok || info.GroupResource != podsResource || !info.Namespaced {
		return 0, provider.NewMetricNotFoundError(info.GroupResource, info.Metric)
	}
	return figure, nil
}

// identifier names the metric in a value, with the metric selector the
// query gave, if any.
func identifier(metric string, metricSelector labels.Selector) (custom_metrics.MetricIdentifier, error) {
	id := custom_metrics.MetricIdentifier{Name: metric}
	if metricSelector.Empty() {
		return id, nil
	}
	sel, err := metav1.ParseToLabelSelector(metricSelector.String())
	if err != nil {
		return id, fmt.Errorf("converting metric selector %q: %w", metricSelector, err)
	}
	id.Selector = sel
	return id, nil
}

// query answers one request: all its values share one time, and each
// Revision's share is worked out once.
type query struct {
	p      *Provider
	figure metrics.Figure
	now    time.Time
	shares map[types.NamespacedName]share
}

type share struct {
	perPod float64
	window time.Duration
	ok     bool
}

func (p *Provider) newQuery(figure metrics.Figure) *query {
	return &query{p: p, figure: figure, now: p.clock.Now(), shares: map[types.NamespacedName]share{}}
}

// perPod returns pod's share of its Revision's figure: the total over
// the window divided among the Revision's ready pods. False when the pod
// is not ready, belongs to no Revision, or the Revision has nothing
// recorded.
func (q *query) perPod(pod *corev1.Pod) (float64, bool, error) {
	name, ok := pod.Labels[string(serving.RevisionLabel)]
	if !ok || name == "" || !metrics.PodServing(pod) {
		return 0, false, nil
	}
	rev := types.NamespacedName{Namespace: pod.Namespace, Name: name}
	s, err := q.share(rev)
	return s.perPod, s.ok, err
}

func (q *query) share(rev types.NamespacedName) (share, error) {
	if s, ok := q.shares[rev]; ok {
		return s, nil
	}
	pods, err := q.p.pods.Pods(rev.Namespace).List(labels.SelectorFromSet(labels.Set{string(serving.RevisionLabel): rev.Name}))
	if err != nil {
		return share{}, fmt.Errorf("listing pods of Revision %s: %w", rev, err)
	}
	ready := 0
	for _, pod := range pods {
		if metrics.PodServing(pod) {
			ready++
		}
	}
	s := share{window: q.p.window(rev)}
	// ready is at least one when called for a ready pod, unless the
	// lister changed between the two reads.
	if ready > 0 {
		var total float64
		total, s.ok = q.p.figures.Average(rev, q.figure, q.now, s.window)
		s.perPod = total / float64(ready)
	}
	q.shares[rev] = s
	return s, nil
}

// value is pod's metric value; perPod is its share.
func (q *query) value(pod *corev1.Pod, id custom_metrics.MetricIdentifier, perPod float64) custom_metrics.MetricValue {
	rev := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Labels[string(serving.RevisionLabel)]}
	window := int64(q.shares[rev].window / time.Second)
	return custom_metrics.MetricValue{
		DescribedObject: custom_metrics.ObjectReference{
			APIVersion: "v1",
			Kind:       "Pod",
			Namespace:  pod.Namespace,
			Name:       pod.Name,
			UID:        pod.UID,
		},
		Metric:        id,
		Timestamp:     metav1.NewTime(q.now),
		WindowSeconds: &window,
		// Thousandths are as fine as the HPA reads (it works in
		// milli-units).
		Value: *resource.NewMilliQuantity(int64(math.Round(perPod*1000)), resource.DecimalSI),
	}
}
