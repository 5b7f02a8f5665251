// Package stats measures the load on one pod for the autoscaler: how many
// requests arrived and how many were in flight, as a time-weighted average
// over each whole second, with probes counted apart from the requests
// users sent. It reports the figures twice: as compact JSON for the
// autoscaler's scraper (ReportHandler), and as OpenTelemetry instruments
// of the sidecar's meter provider for everyone else (RegisterMetrics),
// which the metrics port serves as Prometheus text beside the JSON (Mux).
package stats
