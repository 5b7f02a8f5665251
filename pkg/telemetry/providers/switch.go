package providers

import (
	"context"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// retireTimeout bounds the flush of an exporter or processor replaced by
// a new configuration.
const retireTimeout = 5 * time.Second

// switchingMetricExporter is the periodic reader's exporter: it hands
// each export to the OTLP exporter in force, or drops it when there is
// none. The reader, and with it every instrument, outlives the exporters.
type switchingMetricExporter struct {
	mu      sync.RWMutex
	current sdkmetric.Exporter
}

func (s *switchingMetricExporter) set(e sdkmetric.Exporter) {
	s.mu.Lock()
	old := s.current
	s.current = e
	s.mu.Unlock()
	if old != nil {
		go retire(old.Shutdown)
	}
}

func (s *switchingMetricExporter) get() sdkmetric.Exporter {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current
}

// Temporality is cumulative, what OTLP receivers and Prometheus expect by
// default, whichever exporter is in force.
func (s *switchingMetricExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (s *switchingMetricExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (s *switchingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e := s.get(); e != nil {
		return e.Export(ctx, rm)
	}
	return nil
}

func (s *switchingMetricExporter) ForceFlush(ctx context.Context) error {
	if e := s.get(); e != nil {
		return e.ForceFlush(ctx)
	}
	return nil
}

func (s *switchingMetricExporter) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	e := s.current
	s.current = nil
	s.mu.Unlock()
	if e != nil {
		return e.Shutdown(ctx)
	}
	return nil
}

// retire shuts down what a new configuration replaced, flushing what it
// still holds, within retireTimeout. An error means its receiver is gone
// or slow: the data it held is lost either way, and the new one is in
// force.
func retire(shutdown func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), retireTimeout)
	defer cancel()
	_ = shutdown(ctx)
}
