package custommetrics

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/metrics/pkg/apis/custom_metrics"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/autoscaler/metrics"
)

// t0 is whole seconds, as the API's JSON keeps them.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeFigures holds each Revision's totals, for the one time and window
// a test expects the provider to ask about; any other question finds
// nothing.
type fakeFigures struct {
	now        time.Time
	windows    map[types.NamespacedName]time.Duration
	totals     map[figureKey]float64
	coldStarts map[types.NamespacedName]metrics.ColdStarts
}

type figureKey struct {
	rev    types.NamespacedName
	figure metrics.Figure
}

func (f *fakeFigures) Average(rev types.NamespacedName, figure metrics.Figure, now time.Time, window time.Duration) (float64, bool) {
	if !now.Equal(f.now) || window != f.windows[rev] {
		return 0, false
	}
	v, ok := f.totals[figureKey{rev: rev, figure: figure}]
	return v, ok
}

func (f *fakeFigures) ColdStarts(rev types.NamespacedName, now time.Time) metrics.ColdStarts {
	if !now.Equal(f.now) {
		return metrics.ColdStarts{}
	}
	return f.coldStarts[rev]
}

type podOption func(*corev1.Pod)

func withRevision(rev string) podOption {
	return func(p *corev1.Pod) { p.Labels[string(serving.RevisionLabel)] = rev }
}

func notReady(p *corev1.Pod) {
	p.Status.Conditions[0].Status = corev1.ConditionFalse
}

func deleting(p *corev1.Pod) {
	p.DeletionTimestamp = &metav1.Time{Time: t0}
}

// pod is a ready pod, unless an option says otherwise.
func pod(namespace, name string, opts ...podOption) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			UID:       types.UID("uid-" + name),
			Labels:    map[string]string{"app": "demo", "pod": name},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, opt := range opts {
		opt(p)
	}
	return p
}

func podLister(t *testing.T, pods ...*corev1.Pod) corev1listers.PodLister {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range pods {
		if err := indexer.Add(p); err != nil {
			t.Fatalf("adding pod %s: %v", p.Name, err)
		}
	}
	return corev1listers.NewPodLister(indexer)
}

var (
	hello = types.NamespacedName{Namespace: "demo", Name: "hello-00001"}
	quiet = types.NamespacedName{Namespace: "demo", Name: "quiet-00001"}
	other = types.NamespacedName{Namespace: "other", Name: "other-00001"}
)

// fixture is a namespace "demo" with Revision hello-00001 (pods a and b
// ready, c not ready, d being deleted: two ready pods share its
// figures), Revision quiet-00001 (pod q, nothing recorded) and pod plain
// of no Revision; and a namespace "other" with Revision other-00001
// (pod x) and a pod y labelled hello-00001, a Revision that namespace
// has no figures for.
func fixture(t *testing.T) *Provider {
	t.Helper()
	windows := map[types.NamespacedName]time.Duration{hello: 60 * time.Second, quiet: 60 * time.Second, other: 30 * time.Second}
	figures := &fakeFigures{
		now:     t0,
		windows: windows,
		totals: map[figureKey]float64{
			{rev: hello, figure: metrics.Concurrency}: 3,
			{rev: hello, figure: metrics.RPS}:         10.5,
			{rev: other, figure: metrics.Concurrency}: 7,
		},
		coldStarts: map[types.NamespacedName]metrics.ColdStarts{
			hello: {Count: 4, P50: 274 * time.Millisecond, P95: 1250 * time.Millisecond},
		},
	}
	pods := podLister(t,
		pod("demo", "a", withRevision(hello.Name)),
		pod("demo", "b", withRevision(hello.Name)),
		pod("demo", "c", withRevision(hello.Name), notReady),
		pod("demo", "d", withRevision(hello.Name), deleting),
		pod("demo", "q", withRevision(quiet.Name)),
		pod("demo", "plain"),
		pod("other", "x", withRevision(other.Name)),
		pod("other", "y", withRevision(hello.Name)),
	)
	window := func(rev types.NamespacedName) time.Duration { return windows[rev] }
	return NewProvider(figures, pods, window, clocktesting.NewFakePassiveClock(t0))
}

// value is the metric value the provider should give a pod of fixture.
func value(namespace, name, metric string, window int64, milli int64) custom_metrics.MetricValue {
	return custom_metrics.MetricValue{
		DescribedObject: custom_metrics.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: namespace, Name: name, UID: types.UID("uid-" + name)},
		Metric:          custom_metrics.MetricIdentifier{Name: metric},
		Timestamp:       metav1.NewTime(t0),
		WindowSeconds:   &window,
		Value:           *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}
}

// quantityEqual compares quantities by amount, not by how they are
// written.
var quantityEqual = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

func podsMetric(metric string) provider.CustomMetricInfo {
	return provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true, Metric: metric}
}

func TestGetMetricByName(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	withSelector := value("demo", "a", autoscaling.ConcurrencyMetric, 60, 1500)
	withSelector.Metric.Selector = &metav1.LabelSelector{
		MatchLabels:      map[string]string{},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpDoesNotExist, Values: []string{}}},
	}

	tests := []struct {
		name           string
		pod            types.NamespacedName
		info           provider.CustomMetricInfo
		metricSelector string
		want           *custom_metrics.MetricValue
		wantErr        error
	}{{
		name: "concurrency is the Revision's total shared among its ready pods",
		pod:  types.NamespacedName{Namespace: "demo", Name: "a"},
		info: podsMetric(autoscaling.ConcurrencyMetric),
		want: new(value("demo", "a", autoscaling.ConcurrencyMetric, 60, 1500)),
	}, {
		name: "requests per second likewise",
		pod:  types.NamespacedName{Namespace: "demo", Name: "b"},
		info: podsMetric(autoscaling.RequestsPerSecondMetric),
		want: new(value("demo", "b", autoscaling.RequestsPerSecondMetric, 60, 5250)),
	}, {
		name: "the Revision's own window",
		pod:  types.NamespacedName{Namespace: "other", Name: "x"},
		info: podsMetric(autoscaling.ConcurrencyMetric),
		want: new(value("other", "x", autoscaling.ConcurrencyMetric, 30, 7000)),
	}, {
		name:           "a metric selector that matches no label keeps the values",
		pod:            types.NamespacedName{Namespace: "demo", Name: "a"},
		info:           podsMetric(autoscaling.ConcurrencyMetric),
		metricSelector: "!zone",
		want:           &withSelector,
	}, {
		name:           "a metric selector that asks for a label finds none",
		pod:            types.NamespacedName{Namespace: "demo", Name: "a"},
		info:           podsMetric(autoscaling.ConcurrencyMetric),
		metricSelector: "zone=west",
		wantErr:        provider.NewMetricNotFoundForSelectorError(pods, autoscaling.ConcurrencyMetric, "a", labels.SelectorFromSet(labels.Set{"zone": "west"})),
	}, {
		name:    "a pod that is not ready has none",
		pod:     types.NamespacedName{Namespace: "demo", Name: "c"},
		info:    podsMetric(autoscaling.ConcurrencyMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.ConcurrencyMetric, "c"),
	}, {
		name:    "a pod being deleted has none",
		pod:     types.NamespacedName{Namespace: "demo", Name: "d"},
		info:    podsMetric(autoscaling.ConcurrencyMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.ConcurrencyMetric, "d"),
	}, {
		name:    "a pod of no Revision has none",
		pod:     types.NamespacedName{Namespace: "demo", Name: "plain"},
		info:    podsMetric(autoscaling.ConcurrencyMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.ConcurrencyMetric, "plain"),
	}, {
		name:    "a Revision with nothing recorded has none",
		pod:     types.NamespacedName{Namespace: "demo", Name: "q"},
		info:    podsMetric(autoscaling.ConcurrencyMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.ConcurrencyMetric, "q"),
	}, {
		name:    "a figure not recorded for the Revision",
		pod:     types.NamespacedName{Namespace: "other", Name: "x"},
		info:    podsMetric(autoscaling.RequestsPerSecondMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.RequestsPerSecondMetric, "x"),
	}, {
		name:    "a Revision is known by namespace and name",
		pod:     types.NamespacedName{Namespace: "other", Name: "y"},
		info:    podsMetric(autoscaling.ConcurrencyMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.ConcurrencyMetric, "y"),
	}, {
		name:    "a pod that does not exist",
		pod:     types.NamespacedName{Namespace: "demo", Name: "gone"},
		info:    podsMetric(autoscaling.ConcurrencyMetric),
		wantErr: provider.NewMetricNotFoundForError(pods, autoscaling.ConcurrencyMetric, "gone"),
	}, {
		name:    "an unknown metric",
		pod:     types.NamespacedName{Namespace: "demo", Name: "a"},
		info:    podsMetric("memory"),
		wantErr: provider.NewMetricNotFoundError(pods, "memory"),
	}, {
		name: "another resource",
		pod:  types.NamespacedName{Namespace: "demo", Name: "hello"},
		info: provider.CustomMetricInfo{
			GroupResource: schema.GroupResource{Group: "apps", Resource: "deployments"},
			Namespaced:    true,
			Metric:        autoscaling.ConcurrencyMetric,
		},
		wantErr: provider.NewMetricNotFoundError(schema.GroupResource{Group: "apps", Resource: "deployments"}, autoscaling.ConcurrencyMetric),
	}, {
		name:    "pods outside a namespace",
		pod:     types.NamespacedName{Name: "a"},
		info:    provider.CustomMetricInfo{GroupResource: pods, Metric: autoscaling.ConcurrencyMetric},
		wantErr: provider.NewMetricNotFoundError(pods, autoscaling.ConcurrencyMetric),
	}}
	p := fixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metricSelector, err := labels.Parse(tt.metricSelector)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.GetMetricByName(context.Background(), tt.pod, tt.info, metricSelector)
			if diff := cmp.Diff(tt.wantErr, err); diff != "" {
				t.Errorf("GetMetricByName() error (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got, quantityEqual); diff != "" {
				t.Errorf("GetMetricByName() (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestGetMetricBySelector(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name           string
		namespace      string
		selector       string
		info           provider.CustomMetricInfo
		metricSelector string
		want           []custom_metrics.MetricValue
		wantErr        error
	}{{
		name:      "each ready pod with figures, by name",
		namespace: "demo",
		info:      podsMetric(autoscaling.ConcurrencyMetric),
		want: []custom_metrics.MetricValue{
			value("demo", "a", autoscaling.ConcurrencyMetric, 60, 1500),
			value("demo", "b", autoscaling.ConcurrencyMetric, 60, 1500),
		},
	}, {
		name:      "the HPA's selector of one Revision",
		namespace: "demo",
		selector:  string(serving.RevisionLabel) + "=" + hello.Name,
		info:      podsMetric(autoscaling.RequestsPerSecondMetric),
		want: []custom_metrics.MetricValue{
			value("demo", "a", autoscaling.RequestsPerSecondMetric, 60, 5250),
			value("demo", "b", autoscaling.RequestsPerSecondMetric, 60, 5250),
		},
	}, {
		name:      "a selector of some pods still shares among all the Revision's ready pods",
		namespace: "demo",
		selector:  "pod=a," + string(serving.RevisionLabel) + "=" + hello.Name,
		info:      podsMetric(autoscaling.ConcurrencyMetric),
		want: []custom_metrics.MetricValue{
			value("demo", "a", autoscaling.ConcurrencyMetric, 60, 1500),
		},
	}, {
		name:      "another namespace",
		namespace: "other",
		info:      podsMetric(autoscaling.ConcurrencyMetric),
		want: []custom_metrics.MetricValue{
			value("other", "x", autoscaling.ConcurrencyMetric, 30, 7000),
		},
	}, {
		name:      "a Revision with nothing recorded",
		namespace: "demo",
		selector:  string(serving.RevisionLabel) + "=" + quiet.Name,
		info:      podsMetric(autoscaling.ConcurrencyMetric),
		wantErr:   provider.NewMetricNotFoundError(pods, autoscaling.ConcurrencyMetric),
	}, {
		name:      "no pod matches",
		namespace: "demo",
		selector:  "app=nothing",
		info:      podsMetric(autoscaling.ConcurrencyMetric),
		wantErr:   provider.NewMetricNotFoundError(pods, autoscaling.ConcurrencyMetric),
	}, {
		name:           "a metric selector that asks for a label",
		namespace:      "demo",
		info:           podsMetric(autoscaling.ConcurrencyMetric),
		metricSelector: "zone=west",
		wantErr:        provider.NewMetricNotFoundError(pods, autoscaling.ConcurrencyMetric),
	}, {
		name:      "an unknown metric",
		namespace: "demo",
		info:      podsMetric("cpu"),
		wantErr:   provider.NewMetricNotFoundError(pods, "cpu"),
	}}
	p := fixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			selector, err := labels.Parse(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			metricSelector, err := labels.Parse(tt.metricSelector)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.GetMetricBySelector(context.Background(), tt.namespace, selector, tt.info, metricSelector)
			if diff := cmp.Diff(tt.wantErr, err); diff != "" {
				t.Errorf("GetMetricBySelector() error (-want, +got):\n%s", diff)
			}
			var items []custom_metrics.MetricValue
			if got != nil {
				items = got.Items
			}
			if diff := cmp.Diff(tt.want, items, quantityEqual); diff != "" {
				t.Errorf("GetMetricBySelector() items (-want, +got):\n%s", diff)
			}
		})
	}
}

func revisionsMetric(metric string) provider.CustomMetricInfo {
	return provider.CustomMetricInfo{GroupResource: schema.GroupResource{Group: "serving.knative.dev", Resource: "revisions"}, Namespaced: true, Metric: metric}
}

// revisionValue is the metric value the provider should give a Revision
// of fixture.
func revisionValue(rev types.NamespacedName, metric string, window int64, milli int64) custom_metrics.MetricValue {
	return custom_metrics.MetricValue{
		DescribedObject: custom_metrics.ObjectReference{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Namespace: rev.Namespace, Name: rev.Name},
		Metric:          custom_metrics.MetricIdentifier{Name: metric},
		Timestamp:       metav1.NewTime(t0),
		WindowSeconds:   &window,
		Value:           *resource.NewMilliQuantity(milli, resource.DecimalSI),
	}
}

func TestRevisionMetrics(t *testing.T) {
	p := fixture(t)
	for _, tc := range []struct {
		rev    types.NamespacedName
		metric string
		want   *custom_metrics.MetricValue
	}{
		{hello, autoscaling.ConcurrencyMetric, ptr.To(revisionValue(hello, autoscaling.ConcurrencyMetric, 60, 3000))},
		{hello, autoscaling.RequestsPerSecondMetric, ptr.To(revisionValue(hello, autoscaling.RequestsPerSecondMetric, 60, 10500))},
		{hello, autoscaling.ColdStartsMetric, ptr.To(revisionValue(hello, autoscaling.ColdStartsMetric, 3600, 4000))},
		{hello, autoscaling.ColdStartP50Metric, ptr.To(revisionValue(hello, autoscaling.ColdStartP50Metric, 3600, 274))},
		{hello, autoscaling.ColdStartP95Metric, ptr.To(revisionValue(hello, autoscaling.ColdStartP95Metric, 3600, 1250))},
		// Never woken: none counted, no percentile to give.
		{quiet, autoscaling.ColdStartsMetric, ptr.To(revisionValue(quiet, autoscaling.ColdStartsMetric, 3600, 0))},
		{quiet, autoscaling.ColdStartP50Metric, nil},
		// No load recorded in its window.
		{quiet, autoscaling.ConcurrencyMetric, nil},
		{hello, "cpu", nil},
	} {
		t.Run(tc.rev.Name+"/"+tc.metric, func(t *testing.T) {
			got, err := p.GetMetricByName(t.Context(), tc.rev, revisionsMetric(tc.metric), labels.Everything())
			if tc.want == nil {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("GetMetricByName = %+v, %v; want NotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, quantityEqual); diff != "" {
				t.Errorf("GetMetricByName (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestListAllMetrics(t *testing.T) {
	want := []provider.CustomMetricInfo{podsMetric(autoscaling.ConcurrencyMetric), podsMetric(autoscaling.RequestsPerSecondMetric)}
	for _, m := range []string{autoscaling.ConcurrencyMetric, autoscaling.RequestsPerSecondMetric, autoscaling.ColdStartsMetric, autoscaling.ColdStartP50Metric, autoscaling.ColdStartP95Metric} {
		want = append(want, revisionsMetric(m))
	}
	if diff := cmp.Diff(want, fixture(t).ListAllMetrics()); diff != "" {
		t.Errorf("ListAllMetrics() (-want, +got):\n%s", diff)
	}
}

func TestDefaultWindow(t *testing.T) {
	figures := &fakeFigures{
		now:     t0,
		windows: map[types.NamespacedName]time.Duration{hello: DefaultWindow},
		totals:  map[figureKey]float64{{rev: hello, figure: metrics.Concurrency}: 2},
	}
	p := NewProvider(figures, podLister(t, pod("demo", "a", withRevision(hello.Name))), nil, clocktesting.NewFakePassiveClock(t0))
	got, err := p.GetMetricByName(context.Background(), types.NamespacedName{Namespace: "demo", Name: "a"}, podsMetric(autoscaling.ConcurrencyMetric), labels.Everything())
	if err != nil {
		t.Fatalf("GetMetricByName() = %v", err)
	}
	if diff := cmp.Diff(new(value("demo", "a", autoscaling.ConcurrencyMetric, 60, 2000)), got, quantityEqual); diff != "" {
		t.Errorf("GetMetricByName() (-want, +got):\n%s", diff)
	}
}
