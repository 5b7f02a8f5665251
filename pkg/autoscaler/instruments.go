package autoscaler

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/autoscaler/metrics"
	"flywheel.dev/pkg/autoscaler/scaling"
)

// The built-in class's figures per Revision, each the latest decision's:
// what Knative's autoscaler reports, under Flywheel's names.
const (
	metricDesiredPods = "flywheel.autoscaler.desired_pods"
	metricActualPods  = "flywheel.autoscaler.actual_pods"
	metricReadyPods   = "flywheel.autoscaler.ready_pods"
	metricPanicMode   = "flywheel.autoscaler.panic_mode"
	// The load the decision weighed, over the stable and the panic
	// window, in the unit of the Revision's metric: concurrent requests
	// or requests per second (flywheel.metric says which).
	metricStableLoad = "flywheel.autoscaler.stable_load"
	metricPanicLoad  = "flywheel.autoscaler.panic_load"

	attrNamespace = attribute.Key("k8s.namespace.name")
	attrRevision  = attribute.Key("flywheel.revision")
	attrMetric    = attribute.Key("flywheel.metric")
)

// RegisterInstruments reports, whenever mp's readers collect, each
// Revision's latest decision and the load behind it, and its pods that
// exist now (actualPods, read at collection; nil leaves them out).
// Revisions the HPA class scales have no decision here and are left out.
func (r *Revisions) RegisterInstruments(mp metric.MeterProvider, actualPods func(types.NamespacedName) int) error {
	m := mp.Meter("flywheel.dev/pkg/autoscaler")
	desired, err := m.Int64ObservableGauge(metricDesiredPods, metric.WithUnit("{pod}"),
		metric.WithDescription("Pods the autoscaler wants for the Revision"))
	if err != nil {
		return err
	}
	actual, err := m.Int64ObservableGauge(metricActualPods, metric.WithUnit("{pod}"),
		metric.WithDescription("Pods of the Revision that exist, ready or not yet, and are not being deleted"))
	if err != nil {
		return err
	}
	ready, err := m.Int64ObservableGauge(metricReadyPods, metric.WithUnit("{pod}"),
		metric.WithDescription("Ready pods the latest decision counted"))
	if err != nil {
		return err
	}
	panicking, err := m.Int64ObservableGauge(metricPanicMode,
		metric.WithDescription("1 while the Revision is in panic mode, else 0"))
	if err != nil {
		return err
	}
	stable, err := m.Float64ObservableGauge(metricStableLoad,
		metric.WithDescription("The Revision's load averaged over the stable window"))
	if err != nil {
		return err
	}
	panicLoad, err := m.Float64ObservableGauge(metricPanicLoad,
		metric.WithDescription("The Revision's load averaged over the panic window"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, s := range r.snapshots() {
			attrs := metric.WithAttributes(attrNamespace.String(s.rev.Namespace), attrRevision.String(s.rev.Name))
			o.ObserveInt64(desired, int64(s.decision.DesiredPods), attrs)
			o.ObserveInt64(ready, int64(s.load.ReadyPods), attrs)
			if actualPods != nil {
				o.ObserveInt64(actual, int64(actualPods(s.rev)), attrs)
			}
			var p int64
			if s.decision.Panicking {
				p = 1
			}
			o.ObserveInt64(panicking, p, attrs)
			withMetric := metric.WithAttributes(attrNamespace.String(s.rev.Namespace), attrRevision.String(s.rev.Name), attrMetric.String(figureName(s.figure)))
			o.ObserveFloat64(stable, s.load.Stable, withMetric)
			o.ObserveFloat64(panicLoad, s.load.Panic, withMetric)
		}
		return nil
	}, desired, actual, ready, panicking, stable, panicLoad)
	return err
}

// figureName is the Revision's metric as its annotation names it.
func figureName(f metrics.Figure) string {
	if f == metrics.RPS {
		return "rps"
	}
	return "concurrency"
}

// decisionSnapshot is a Revision's latest decision and the load behind it.
type decisionSnapshot struct {
	rev      types.NamespacedName
	figure   metrics.Figure
	load     scaling.Load
	decision scaling.Decision
}

// snapshots are the latest decisions of the Revisions the built-in class
// decides for.
func (r *Revisions) snapshots() []decisionSnapshot {
	r.mu.Lock()
	loops := make([]*loop, 0, len(r.loops))
	for _, l := range r.loops {
		loops = append(loops, l)
	}
	r.mu.Unlock()
	out := make([]decisionSnapshot, 0, len(loops))
	for _, l := range loops {
		l.mu.Lock()
		if l.decider != nil && l.decided {
			out = append(out, decisionSnapshot{rev: l.rev, figure: l.figure, load: l.lastLoad, decision: l.last})
		}
		l.mu.Unlock()
	}
	return out
}
