// Package stats measures the load on one pod for the autoscaler: how many
// requests arrived and how many were in flight, as a time-weighted average
// over each whole second, with probes counted apart from the requests
// users sent. It serves the figures on the sidecar's metrics port twice:
// as compact JSON for the autoscaler's scraper (ReportHandler) and as
// Prometheus text for everyone else (Mux).
package stats
