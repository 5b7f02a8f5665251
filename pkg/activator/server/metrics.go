package server

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The activator's instruments.
const (
	// metricWait is how long requests waited for a pod with room, zero
	// for those that found one at once.
	metricWait = "flywheel.activator.wait.duration"
	// metricQueueDepth is how many requests wait now, per Revision.
	metricQueueDepth = "flywheel.activator.queue.depth"
	// metricColdStart is, for each request that found its Revision with
	// no ready pod, the time from its arrival to the pod's response
	// headers: the cold start as the caller lived it.
	metricColdStart = "flywheel.activator.cold_start.duration"

	attrNamespace = attribute.Key("k8s.namespace.name")
	attrRevision  = attribute.Key("flywheel.revision")
	// attrOutcome says how a wait ended: pod (it got one), timeout (the
	// Revision's timeoutSeconds passed), full (too many were waiting),
	// cancelled (the client left) or gone (the Revision was deleted).
	attrOutcome = attribute.Key("flywheel.outcome")
	// attrCold says no pod of the Revision was ready when the request
	// began to wait: it waited for a cold start.
	attrCold = attribute.Key("flywheel.cold")
	// attrPod is the address of the pod that answered, on the
	// cold-start span.
	attrPod = attribute.Key("flywheel.pod.address")
)

// waitBuckets run from an immediate pod to a long cold start, in seconds.
var waitBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type instruments struct {
	wait      metric.Float64Histogram
	coldStart metric.Float64Histogram
}

// newInstruments makes the activator's instruments on mp (none when nil),
// the queue depth read from the registry's throttlers when collected.
func newInstruments(mp metric.MeterProvider, g *registry) (instruments, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter("flywheel.dev/pkg/activator/server")
	wait, err := m.Float64Histogram(metricWait, metric.WithUnit("s"),
		metric.WithDescription("Time requests waited for a pod with room"),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	if err != nil {
		return instruments{}, err
	}
	coldStart, err := m.Float64Histogram(metricColdStart, metric.WithUnit("s"),
		metric.WithDescription("Time from the arrival of a request that found no ready pod to the pod's answer"),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	if err != nil {
		return instruments{}, err
	}
	_, err = m.Int64ObservableGauge(metricQueueDepth, metric.WithUnit("{request}"),
		metric.WithDescription("Requests waiting for a pod with room"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			g.each(func(r *revision) {
				o.Observe(int64(r.throttler.waiting()), metric.WithAttributes(
					attrNamespace.String(r.key.Namespace), attrRevision.String(r.key.Name)))
			})
			return nil
		}))
	if err != nil {
		return instruments{}, err
	}
	return instruments{wait: wait, coldStart: coldStart}, nil
}

// recordWait counts a request that waited since start for a pod, with
// the outcome err says, and returns that outcome.
func (in instruments) recordWait(ctx context.Context, at *attempt, start time.Time, cold bool, err error) string {
	outcome := "pod"
	switch {
	case err == nil:
	case at.phase.Load() == phaseTimedOut:
		outcome = "timeout"
	case errors.Is(err, errQueueFull):
		outcome = "full"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		outcome = "cancelled"
	default:
		outcome = "gone"
	}
	// The request's own context may be over: the figure is still wanted.
	in.wait.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), metric.WithAttributes(
		attrNamespace.String(at.rev.key.Namespace), attrRevision.String(at.rev.key.Name),
		attrOutcome.String(outcome), attrCold.Bool(cold)))
	return outcome
}

// recordColdStart counts a cold request whose pod answered now, once.
func (in instruments) recordColdStart(at *attempt) {
	if !at.cold || at.coldRecorded {
		return
	}
	at.coldRecorded = true
	at.rev.coldStarts.ended(at.arrival, time.Now())
	in.coldStart.Record(context.WithoutCancel(at.ctx), time.Since(at.arrival).Seconds(), metric.WithAttributes(
		attrNamespace.String(at.rev.key.Namespace), attrRevision.String(at.rev.key.Name)))
}
