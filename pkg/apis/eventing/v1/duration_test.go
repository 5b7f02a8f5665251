package v1

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{in: "PT0.2S", want: 200 * time.Millisecond},
		{in: "PT1S", want: time.Second},
		{in: "PT1M", want: time.Minute},
		{in: "PT1M30S", want: 90 * time.Second},
		{in: "P1DT12H", want: 36 * time.Hour},
		{in: "P30D", want: 30 * 24 * time.Hour},
		{in: "P2W", want: 14 * 24 * time.Hour},
		{in: "PT1.5H", want: 90 * time.Minute},
		{in: "PT0,5S", want: 500 * time.Millisecond},
		{in: "P1W2DT3H4M5.5S", want: 9*24*time.Hour + 3*time.Hour + 4*time.Minute + 5500*time.Millisecond},
		{in: "PT0S", want: 0},
		// Floating point puts 1.001 s a hair below 1001 ms; it must not
		// be truncated to 1.000999999 s.
		{in: "PT1.001S", want: 1001 * time.Millisecond},
		{in: "PT257.001S", want: 257001 * time.Millisecond},
		{in: "P15250W", want: 15250 * 7 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q) = %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{{
		name: "empty",
		in:   "",
		want: `"" is not an ISO 8601 duration: write P, then T and the time, as in PT0.2S or PT1M30S`,
	}, {
		name: "P alone",
		in:   "P",
		want: `"P" is not an ISO 8601 duration: write P, then T and the time, as in PT0.2S or PT1M30S`,
	}, {
		name: "PT alone",
		in:   "PT",
		want: `"PT" is not an ISO 8601 duration: write P, then T and the time, as in PT0.2S or PT1M30S`,
	}, {
		name: "Go syntax",
		in:   "5s",
		want: `"5s" is not an ISO 8601 duration: write P, then T and the time, as in PT0.2S or PT1M30S`,
	}, {
		name: "nothing after T",
		in:   "P1DT",
		want: `"P1DT": nothing follows T`,
	}, {
		name: "years",
		in:   "P1Y",
		want: `"P1Y": years and months have no fixed length; use days (P30D)`,
	}, {
		name: "months",
		in:   "P1M",
		want: `"P1M": years and months have no fixed length; use days (P30D)`,
	}, {
		name: "wrong order",
		in:   "PT1S1M",
		want: `"PT1S1M" is not an ISO 8601 duration: units must come in the order HMS, once each`,
	}, {
		name: "unit twice",
		in:   "PT1S2S",
		want: `"PT1S2S" is not an ISO 8601 duration: units must come in the order HMS, once each`,
	}, {
		name: "unknown unit",
		in:   "PT1X",
		want: `"PT1X" is not an ISO 8601 duration: 'X' is not a unit here (HMS)`,
	}, {
		name: "time unit before T",
		in:   "P1H",
		want: `"P1H" is not an ISO 8601 duration: 'H' is not a unit here (WD)`,
	}, {
		name: "unit without a number",
		in:   "PTS",
		want: `"PTS" is not an ISO 8601 duration: each number needs a unit of HMS`,
	}, {
		name: "number without a unit",
		in:   "PT5",
		want: `"PT5" is not an ISO 8601 duration: each number needs a unit of HMS`,
	}, {
		name: "two decimal points",
		in:   "PT1..5S",
		want: `"PT1..5S": "1..5" is not a number`,
	}, {
		name: "one nanosecond past the longest duration",
		in:   "PT9223372036.854775808S",
		want: "the duration is too long",
	}, {
		// Rounds to 2^63 ns in floating point, which no Duration holds;
		// it must not wrap to a negative one.
		name: "the longest duration, in floating point",
		in:   "PT9223372036.854775807S",
		want: "the duration is too long",
	}, {
		name: "weeks past the longest duration",
		in:   "P15251W",
		want: "the duration is too long",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if err == nil {
				t.Fatalf("ParseDuration(%q) = %v, want error %q", tc.in, got, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("ParseDuration(%q) error = %q, want %q", tc.in, err, tc.want)
			}
		})
	}
}
