package promtext

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Exporter is a metric reader whose collections are served in Prometheus'
// text format: give Reader to the meter provider, and serve the Exporter
// at /metrics. Each scrape collects anew; only target_info, which the
// resource decides, is kept between them.
type Exporter struct {
	// reader is a manual reader of the SDK's defaults (cumulative sums,
	// explicit-bucket histograms), as the OpenTelemetry exporter's is.
	reader *sdkmetric.ManualReader

	// targetInfo is target_info's labels, made of the resource at the
	// first collection: a reader serves one provider, whose resource
	// does not change. targetInfoErr says why there is none.
	targetInfoOnce sync.Once
	targetInfo     []label
	targetInfoErr  error
}

// New returns an Exporter that has collected nothing yet.
func New() *Exporter {
	return &Exporter{reader: sdkmetric.NewManualReader()}
}

// Reader is the reader to pass to sdkmetric.WithReader. It belongs to
// one meter provider; shutting that down makes every scrape fail.
func (e *Exporter) Reader() sdkmetric.Reader { return e.reader }

// ServeHTTP collects the metrics and writes them in the text format.
// Whatever the request accepts, the answer is text 0.0.4: promhttp
// would negotiate protobuf with a scraper that asks for it, which only
// native histograms need, and Flywheel records none. Like promhttp, it
// answers any method, leaving GET-only to the mux, honours ?name[]=…
// (families by name), and answers a scrape it cannot serve whole with
// 500 and the reason. It does not gzip: a scrape of a Flywheel component
// is a few kilobytes inside the cluster, and its CPU would be the
// sidecar's.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	families, err := e.gather(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if names := r.URL.Query()["name[]"]; len(names) > 0 {
		families = only(families, names)
	}
	body := appendText(nil, families)
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// An error here is the scraper's connection, which has gone: there
	// is no one left to tell.
	_, _ = w.Write(body)
}

// WriteText collects the metrics and writes them to w in the text
// format, or writes nothing and returns why the scrape would fail.
func (e *Exporter) WriteText(ctx context.Context, w io.Writer) error {
	families, err := e.gather(ctx)
	if err != nil {
		return err
	}
	if _, err := w.Write(appendText(nil, families)); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}

// gather collects and returns the scrape's families, in the order they
// are written. It fails where promhttp over the OpenTelemetry exporter
// answers 500: two instruments of one name and different types, a series
// twice, an attribute key that cannot be a label name, a value that is
// not UTF-8.
func (e *Exporter) gather(ctx context.Context) ([]*family, error) {
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(ctx, &rm); err != nil {
		if errors.Is(err, sdkmetric.ErrReaderShutdown) || errors.Is(err, sdkmetric.ErrReaderNotRegistered) ||
			errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// The OpenTelemetry exporter serves an empty page when its
			// reader is shut down: a scrape of nothing that looks like
			// success. Here it is a failure the scraper sees.
			return nil, fmt.Errorf("collecting metrics: %w", err)
		}
		// Callbacks failed, and the SDK says so with what the others
		// recorded; the exporter serves that and reports the error to
		// OpenTelemetry's handler, and so does this: one failing
		// callback does not hide every instrument.
		otel.Handle(fmt.Errorf("collecting metrics: %w", err))
	}
	g := newGathering()
	e.targetInfoOnce.Do(func() {
		e.targetInfo, e.targetInfoErr = targetInfoLabels(rm.Resource)
		if e.targetInfoErr != nil {
			otel.Handle(e.targetInfoErr)
		}
	})
	if e.targetInfoErr == nil {
		g.addTargetInfo(e.targetInfo)
	}
	g.addMetrics(&rm)
	if err := g.err(); err != nil {
		return nil, fmt.Errorf("metrics for Prometheus: %w", err)
	}
	return g.sorted(), nil
}

// only keeps the families of the names given.
func only(families []*family, names []string) []*family {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := families[:0]
	for _, f := range families {
		if want[f.name] {
			out = append(out, f)
		}
	}
	return out
}
