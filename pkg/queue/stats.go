package queue

import "time"

// StatsVersion is the version of StatsReport that the sidecar serves.
// Adding a field keeps it; removing a field or changing a field's meaning
// or unit raises it, so a scraper can refuse what it would misread.
const StatsVersion = 1

// StatsSinceParam is the query parameter of StatsPath that asks for every
// complete second after a time (RFC 3339): the Time of the previous
// report. Without it, the report covers the latest complete second.
const StatsSinceParam = "since"

// StatsReport is the JSON the sidecar serves at StatsPath on MetricsPort,
// for the autoscaler's scraper. It covers Seconds consecutive complete seconds
// ending at Time; docs/queue-stats.md describes every field.
type StatsReport struct {
	// Version is the StatsVersion the sidecar speaks.
	Version int `json:"version"`
	// Namespace, Service, Configuration, Revision and Pod say whose load
	// this is; Service is empty for a Configuration made on its own.
	Namespace     string `json:"namespace"`
	Service       string `json:"service"`
	Configuration string `json:"configuration"`
	Revision      string `json:"revision"`
	Pod           string `json:"pod"`
	// Time is the end of the last second covered, in UTC. Passed back as
	// StatsSinceParam, it asks for the seconds after it.
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
