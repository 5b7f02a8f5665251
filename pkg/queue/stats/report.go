package stats

import (
	"encoding/json"
	"net/http"
	"time"

	"flywheel.dev/pkg/queue"
)

// Version is the version of Report that ReportHandler serves. Adding a
// field keeps it; removing a field or changing a field's meaning or unit
// raises it, so a scraper can refuse what it would misread.
const Version = 1

// SinceParam is the query parameter of StatsPath that asks for every
// complete second after a time (RFC 3339): the Time of the previous
// Report. Without it, the report covers the latest complete second.
const SinceParam = "since"

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

// Report is the JSON that ReportHandler serves at queue.StatsPath, for the
// autoscaler's scraper. It covers Seconds consecutive complete seconds
// ending at Time; docs/queue-stats.md describes every field.
type Report struct {
	// Version is the Version the sidecar speaks.
	Version int `json:"version"`
	// Namespace, Service, Configuration, Revision and Pod say whose load
	// this is; Service is empty for a Configuration made on its own.
	Namespace     string `json:"namespace"`
	Service       string `json:"service"`
	Configuration string `json:"configuration"`
	Revision      string `json:"revision"`
	Pod           string `json:"pod"`
	// Time is the end of the last second covered, in UTC. Passed back as
	// SinceParam, it asks for the seconds after it.
	Time time.Time `json:"time"`
	// Seconds is how many whole seconds the report covers. 0 means no
	// second completed after the one asked for, and every figure below is
	// 0 without meaning that the pod was idle.
	Seconds int `json:"seconds"`
	// AverageConcurrency is the time-weighted average number of requests
	// in flight over the covered seconds, probes included.
	AverageConcurrency float64 `json:"averageConcurrency"`
	// AverageProxiedConcurrency is the same without probes.
	AverageProxiedConcurrency float64 `json:"averageProxiedConcurrency"`
	// AverageActivatorConcurrency is the part of AverageProxiedConcurrency
	// that the activator forwarded. The activator reports those requests
	// itself, so the autoscaler scales on the difference of the two.
	AverageActivatorConcurrency float64 `json:"averageActivatorConcurrency"`
	// RequestCount counts the requests that arrived in the covered
	// seconds, probes included; ProxiedRequestCount and ProbeRequestCount
	// split it, and ActivatorRequestCount counts those of the proxied
	// ones that the activator forwarded. Per second, divide by Seconds.
	RequestCount          int64 `json:"requestCount"`
	ProxiedRequestCount   int64 `json:"proxiedRequestCount"`
	ActivatorRequestCount int64 `json:"activatorRequestCount"`
	ProbeRequestCount     int64 `json:"probeRequestCount"`
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
