package promtext_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// TestNamesMatchTheOTelPrometheusExporter holds each rule of the names
// (otlptranslator's, through the exporter) to a row: every unit of its
// table, units it does not know, "per" units, and names with what a
// Prometheus name cannot hold.
func TestNamesMatchTheOTelPrometheusExporter(t *testing.T) {
	const (
		counter     = "counter"
		upDown      = "up-down counter"
		gauge       = "gauge"
		histogram   = "histogram"
		promCounter = " counter"
		promGauge   = " gauge"
		promHisto   = " histogram"
	)
	rows := []struct {
		instrument, name, unit string
		want                   string
	}{
		// The unit table, on gauges.
		{gauge, "t.d", "d", "t_d_days" + promGauge},
		{gauge, "t.h", "h", "t_h_hours" + promGauge},
		{gauge, "t.min", "min", "t_min_minutes" + promGauge},
		{gauge, "t.s", "s", "t_s_seconds" + promGauge},
		{gauge, "t.ms", "ms", "t_ms_milliseconds" + promGauge},
		{gauge, "t.us", "us", "t_us_microseconds" + promGauge},
		{gauge, "t.ns", "ns", "t_ns_nanoseconds" + promGauge},
		{gauge, "b.By", "By", "b_By_bytes" + promGauge},
		{gauge, "b.KiBy", "KiBy", "b_KiBy_kibibytes" + promGauge},
		{gauge, "b.MiBy", "MiBy", "b_MiBy_mebibytes" + promGauge},
		{gauge, "b.GiBy", "GiBy", "b_GiBy_gibibytes" + promGauge},
		{gauge, "b.TiBy", "TiBy", "b_TiBy_tibibytes" + promGauge},
		{gauge, "b.KBy", "KBy", "b_KBy_kilobytes" + promGauge},
		{gauge, "b.MBy", "MBy", "b_MBy_megabytes" + promGauge},
		{gauge, "b.GBy", "GBy", "b_GBy_gigabytes" + promGauge},
		{gauge, "b.TBy", "TBy", "b_TBy_terabytes" + promGauge},
		{gauge, "si.m", "m", "si_m_meters" + promGauge},
		{gauge, "si.V", "V", "si_V_volts" + promGauge},
		{gauge, "si.A", "A", "si_A_amperes" + promGauge},
		{gauge, "si.J", "J", "si_J_joules" + promGauge},
		{gauge, "si.W", "W", "si_W_watts" + promGauge},
		{gauge, "si.g", "g", "si_g_grams" + promGauge},
		{gauge, "misc.Cel", "Cel", "misc_Cel_celsius" + promGauge},
		{gauge, "misc.Hz", "Hz", "misc_Hz_hertz" + promGauge},
		{gauge, "misc.percent", "%", "misc_percent" + promGauge},
		// "1" is _ratio on a gauge only, and nothing elsewhere.
		{gauge, "utilisation", "1", "utilisation_ratio" + promGauge},
		{gauge, "load.ratio", "1", "load_ratio" + promGauge},
		{upDown, "pool.share", "1", "pool_share" + promGauge},
		{counter, "hits", "1", "hits_total" + promCounter},
		{histogram, "fraction", "1", "fraction" + promHisto},
		// Annotations name no unit; unknown units are used as written.
		{counter, "requests", "{request}", "requests_total" + promCounter},
		{counter, "custom", "foo/bar", "custom_foo_per_bar_total" + promCounter},
		{gauge, "weird", "a.b/c.d", "weird_a_b_per_c_d" + promGauge},
		{gauge, "trailing", "foo.", "trailing_foo_" + promGauge},
		{counter, "trailing.counter", "foo.", "trailing_counter_foo__total" + promCounter},
		{gauge, "spaced", " s ", "spaced_seconds" + promGauge},
		// "per" units.
		{counter, "transfer", "By/s", "transfer_bytes_per_second_total" + promCounter},
		{gauge, "speed", "m/s", "speed_meters_per_second" + promGauge},
		{gauge, "weekly", "{event}/w", "weekly_per_week" + promGauge},
		{gauge, "monthly", "/mo", "monthly_per_month" + promGauge},
		{gauge, "yearly", "1/y", "yearly_per_year" + promGauge},
		{gauge, "slash.last", "s/", "slash_last_seconds" + promGauge},
		{gauge, "per.dot", "s/.", "per_dot_seconds" + promGauge},
		// A unit or _total the name has already is not added again.
		{histogram, "duration.seconds", "s", "duration_seconds" + promHisto},
		{counter, "events.total", "", "events_total" + promCounter},
		{counter, "total.first", "", "first_total" + promCounter},
		// Tokens are compared one by one: per_second is two here.
		{counter, "rate.per.second", "By/s", "rate_per_second_bytes_per_second_total" + promCounter},
		// Names: runs of what is not a letter, digit or colon are one
		// underscore, none at the ends; a leading digit gets one before.
		{histogram, "http.server.request.duration", "s", "http_server_request_duration_seconds" + promHisto},
		{upDown, "http-client.open__connections.", "{connection}", "http_client_open_connections" + promGauge},
		{gauge, "with:colon", "", "with:colon" + promGauge},
		{gauge, "café.au-lait", "", "caf_au_lait" + promGauge},
		{gauge, "9lives", "", "_9lives" + promGauge},
		{gauge, "_under_", "", "under" + promGauge},
	}
	ctx := context.Background()
	s := newScrapers(t, resource.Empty())
	m := s.provider.Meter("flywheel.dev/test/names")
	for _, r := range rows {
		// Some names are ones the SDK calls invalid; it makes the
		// instrument all the same.
		unit := metric.WithUnit(r.unit)
		switch r.instrument {
		case counter:
			c, _ := m.Float64Counter(r.name, unit)
			c.Add(ctx, 1)
		case upDown:
			c, _ := m.Float64UpDownCounter(r.name, unit)
			c.Add(ctx, 1)
		case gauge:
			g, _ := m.Float64Gauge(r.name, unit)
			g.Record(ctx, 1)
		case histogram:
			h, _ := m.Float64Histogram(r.name, unit)
			h.Record(ctx, 1)
		}
	}
	ours, _ := s.scrapeBoth(t, "/metrics")
	got := map[string]bool{}
	for _, f := range familyNames(t, ours.body) {
		got[f] = true
	}
	for _, r := range rows {
		if !got[r.want] {
			t.Errorf("%s %q of unit %q: no family %q", r.instrument, r.name, r.unit, r.want)
		}
	}
	if diff := cmp.Diff(len(rows)+1, len(got)); diff != "" {
		t.Errorf("families, one a row and target_info (-want, +got):\n%s", diff)
	}
}
