package stats

import (
	"encoding/json"
	"net/http"
	"time"

	"flywheel.dev/pkg/queue"
)

// Version, SinceParam and Report are the sidecar's stats contract, which
// lives in package queue so that the activator's contract can embed the
// Report without linking this package's Prometheus and OpenTelemetry
// dependencies. They are kept here under their old names for the scraper
// and the handler.
const (
	Version    = queue.StatsVersion
	SinceParam = queue.StatsSinceParam
)

// Report is queue.StatsReport.
type Report = queue.StatsReport

// Labels say whose load a report measures.
type Labels struct {
	Namespace     string
	Service       string
	Configuration string
	Revision      string
	Pod           string
}

// LabelsFromConfig returns the labels of the sidecar configured by c.
func LabelsFromConfig(c queue.Config) Labels {
	return Labels{
		Namespace:     c.Namespace,
		Service:       c.Service,
		Configuration: c.Configuration,
		Revision:      c.Revision,
		Pod:           c.Pod,
	}
}

// NewReport returns the Report of w for the pod labelled l.
func NewReport(w Window, l Labels) Report {
	return Report{
		Version:                     Version,
		Namespace:                   l.Namespace,
		Service:                     l.Service,
		Configuration:               l.Configuration,
		Revision:                    l.Revision,
		Pod:                         l.Pod,
		Time:                        w.End.UTC(),
		Seconds:                     w.Seconds,
		AverageConcurrency:          w.AverageConcurrency,
		AverageProxiedConcurrency:   w.AverageProxiedConcurrency,
		AverageActivatorConcurrency: w.AverageActivatorConcurrency,
		RequestCount:                w.ProxiedRequests + w.ProbeRequests,
		ProxiedRequestCount:         w.ProxiedRequests,
		ActivatorRequestCount:       w.ActivatorRequests,
		ProbeRequestCount:           w.ProbeRequests,
	}
}

// ReportHandler serves t's Report as JSON to GET requests: the seconds
// after SinceParam when the request has it, the latest complete second
// otherwise. Reading does not consume anything, so a retried or a second
// scraper gets the same answer and nobody steals seconds from the
// autoscaler.
func ReportHandler(t *Tracker, labels Labels) http.Handler {
	return getOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var win Window
		if v := r.URL.Query().Get(SinceParam); v != "" {
			since, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				http.Error(w, "queue-proxy: "+SinceParam+"="+v+" is not an RFC 3339 time; pass the time of the previous report, or leave it out for the latest second",
					http.StatusBadRequest)
				return
			}
			win = t.Since(since)
		} else {
			win = t.LastSecond()
		}
		body, err := json.Marshal(NewReport(win, labels))
		if err != nil {
			// Report holds nothing that cannot be marshalled, but a
			// concurrency of NaN would be; say so rather than serve half
			// a body.
			http.Error(w, "queue-proxy: encoding stats: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The figures change every second; a cache in between would
		// hand the autoscaler stale load.
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(body, '\n'))
	}))
}

// getOnly answers 405 to anything but GET (and HEAD, which net/http
// serves as a GET without the body): the metrics port only reads.
func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "queue-proxy: "+r.Method+" not allowed; use GET", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}
