// Package promtext serves the OpenTelemetry SDK's metrics in Prometheus'
// text exposition format 0.0.4, as the OpenTelemetry Prometheus exporter
// (go.opentelemetry.io/otel/exporters/prometheus v0.66.0, WithoutScopeInfo)
// serves them through promhttp: the same family names, types, HELP,
// labels, samples and target_info, and the same scrapes that fail. It
// departs from them where they serve what misleads: a shut-down reader
// is a 500 here, not an empty page, and the scopes are read in one order,
// not the SDK's map order, so that of two descriptions under one name
// the same is HELP at every start. It serves text only, uncompressed.
//
// It exists so that the queue-proxy sidecar and the proxies link neither
// client_golang nor prometheus/common, procfs, otlptranslator or the
// exporter: those cost the sidecar megabytes of binary and of RSS and
// milliseconds of init at every pod start, to write a few dozen lines of
// text. The package imports the standard library and OpenTelemetry's API
// and SDK only; a test holds it to that, and another scrapes it beside
// the exporter it replaces.
package promtext
