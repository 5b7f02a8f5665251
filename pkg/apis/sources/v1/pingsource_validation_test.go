package v1

import (
	"context"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// validPingSource returns a valid, defaulted PingSource for rows to change.
func validPingSource() *PingSource {
	sink := brokerSink()
	sink.Ref.Namespace = "shop"
	return &PingSource{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "shop"},
		Spec: PingSourceSpec{
			SourceSpec: duckv1.SourceSpec{Sink: sink},
			Schedule:   "*/2 * * * *",
			Data:       "hello",
		},
	}
}

func TestPingSourceValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*PingSource)
		want   []string
	}{{
		name:   "valid",
		change: func(*PingSource) {},
	}, {
		name:   "no schedule is every minute",
		change: func(p *PingSource) { p.Spec.Schedule = "" },
	}, {
		name:   "a descriptor",
		change: func(p *PingSource) { p.Spec.Schedule = "@daily" },
	}, {
		name:   "a time zone",
		change: func(p *PingSource) { p.Spec.Timezone = "Europe/Berlin" },
	}, {
		name:   "a CRON_TZ= prefix",
		change: func(p *PingSource) { p.Spec.Schedule = "CRON_TZ=America/New_York 0 9 * * *" },
	}, {
		name:   "a TZ= prefix, which the cron library reads too",
		change: func(p *PingSource) { p.Spec.Schedule = "TZ=Asia/Tokyo 0 9 * * *" },
	}, {
		name:   "four fields",
		change: func(p *PingSource) { p.Spec.Schedule = "* * * *" },
		want: []string{`invalid schedule "* * * *": expected exactly 5 fields, found 4`, "spec.schedule",
			"write five fields, minute hour day-of-month month day-of-week"},
	}, {
		name:   "a minute out of range",
		change: func(p *PingSource) { p.Spec.Schedule = "60 * * * *" },
		want:   []string{`invalid schedule "60 * * * *"`, "spec.schedule"},
	}, {
		name:   "seconds are not part of a standard schedule",
		change: func(p *PingSource) { p.Spec.Schedule = "0 */5 * * * *" },
		want:   []string{"expected exactly 5 fields, found 6", "spec.schedule"},
	}, {
		name:   "@every",
		change: func(p *PingSource) { p.Spec.Schedule = "@every 5m" },
		want: []string{`schedule "@every 5m": @every is not supported: spec.schedule`,
			"write the interval as a cron schedule, such as */5 * * * *"},
	}, {
		name:   "an unknown time zone",
		change: func(p *PingSource) { p.Spec.Timezone = "Mars/Olympus" },
		want:   []string{`unknown time zone "Mars/Olympus": spec.timezone`, "use an IANA time zone name such as Europe/Berlin"},
	}, {
		name:   "an unknown time zone in the prefix",
		change: func(p *PingSource) { p.Spec.Schedule = "CRON_TZ=Mars/Olympus * * * * *" },
		want:   []string{`unknown time zone "Mars/Olympus": spec.schedule`},
	}, {
		name:   "a prefix without a zone",
		change: func(p *PingSource) { p.Spec.Schedule = "CRON_TZ= * * * * *" },
		want:   []string{"has a time zone prefix without a zone: spec.schedule", "write CRON_TZ=<zone> followed by the schedule"},
	}, {
		// The cron library alone panics on this one.
		name:   "a prefix without a schedule",
		change: func(p *PingSource) { p.Spec.Schedule = "CRON_TZ=UTC" },
		want:   []string{`invalid schedule "CRON_TZ=UTC"`, "spec.schedule"},
	}, {
		name: "the time zone given twice",
		change: func(p *PingSource) {
			p.Spec.Schedule = "CRON_TZ=UTC 0 9 * * *"
			p.Spec.Timezone = "Europe/Berlin"
		},
		want: []string{"the time zone is given twice", "spec.schedule", "spec.timezone",
			"keep timezone and remove the CRON_TZ= prefix from the schedule"},
	}, {
		name: "data as base64",
		change: func(p *PingSource) {
			p.Spec.Data = ""
			p.Spec.DataBase64 = "AAEC/w=="
			p.Spec.ContentType = "application/octet-stream"
		},
	}, {
		name:   "data and dataBase64",
		change: func(p *PingSource) { p.Spec.DataBase64 = "aGVsbG8=" },
		want: []string{"expected at most one of data and dataBase64, got both", "spec.data", "spec.dataBase64",
			"put text in data, or bytes encoded as base64 in dataBase64"},
	}, {
		name: "dataBase64 that is not base64",
		change: func(p *PingSource) {
			p.Spec.Data = ""
			p.Spec.DataBase64 = "not base64!"
		},
		want: []string{"dataBase64 is not standard base64", "spec.dataBase64", "encode the bytes with standard base64"},
	}, {
		name: "JSON data",
		change: func(p *PingSource) {
			p.Spec.ContentType = "application/json; charset=utf-8"
			p.Spec.Data = `{"message": "hello"}`
		},
	}, {
		name:   "data declared JSON that is not",
		change: func(p *PingSource) { p.Spec.ContentType = "application/json" },
		want: []string{"data is not valid JSON, but contentType says application/json: spec.data",
			"correct the JSON, or set contentType to the media type of the data, such as text/plain"},
	}, {
		name: "dataBase64 declared JSON that is not",
		change: func(p *PingSource) {
			p.Spec.ContentType = "application/json"
			p.Spec.Data = ""
			p.Spec.DataBase64 = "aGVsbG8=" // hello
		},
		want: []string{"dataBase64 is not valid JSON", "spec.dataBase64"},
	}, {
		name:   "text that is not JSON, declared as text",
		change: func(p *PingSource) { p.Spec.ContentType = "text/plain" },
	}, {
		name:   "no sink",
		change: func(p *PingSource) { p.Spec.Sink = duckv1.Destination{} },
		want:   []string{"a sink is required: spec.sink", "set ref to the Broker, Knative Service or other addressable object"},
	}, {
		name: "every mistake is reported at once",
		change: func(p *PingSource) {
			p.Spec.Schedule = "often"
			p.Spec.DataBase64 = "aGVsbG8="
			p.Spec.Sink = duckv1.Destination{}
		},
		want: []string{"spec.schedule", "spec.dataBase64", "spec.sink"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPingSource()
			tc.change(p)
			checkErr(t, fieldErr(p.Validate(context.Background())), tc.want...)
		})
	}
}

// TestPingSourceCronSchedule checks that the schedule is read in its time
// zone, and in UTC without one: never in the zone of the machine.
func TestPingSourceCronSchedule(t *testing.T) {
	from := time.Date(2026, time.January, 15, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		schedule string
		timezone string
		want     time.Time
		wantZone string
	}{{
		name:     "no zone: UTC",
		schedule: "0 9 * * *",
		want:     time.Date(2026, time.January, 15, 9, 0, 0, 0, time.UTC),
		wantZone: "UTC",
	}, {
		name:     "timezone",
		schedule: "0 9 * * *",
		timezone: "Europe/Berlin",
		want:     time.Date(2026, time.January, 15, 8, 0, 0, 0, time.UTC),
		wantZone: "Europe/Berlin",
	}, {
		name:     "CRON_TZ= prefix",
		schedule: "CRON_TZ=America/New_York 0 9 * * *",
		want:     time.Date(2026, time.January, 15, 14, 0, 0, 0, time.UTC),
		wantZone: "America/New_York",
	}, {
		name:     "empty: every minute",
		want:     time.Date(2026, time.January, 15, 0, 1, 0, 0, time.UTC),
		wantZone: "UTC",
	}, {
		name:     "a descriptor in a zone",
		schedule: "@daily",
		timezone: "Asia/Tokyo",
		want:     time.Date(2026, time.January, 15, 15, 0, 0, 0, time.UTC),
		wantZone: "Asia/Tokyo",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := PingSourceSpec{Schedule: tc.schedule, Timezone: tc.timezone}
			s, err := spec.CronSchedule()
			if err != nil {
				t.Fatalf("CronSchedule() = %v", err)
			}
			if got := s.Next(from); !got.Equal(tc.want) {
				t.Errorf("Next(%v) = %v, want %v", from, got.UTC(), tc.want)
			}
			parsed, ok := s.(*cron.SpecSchedule)
			if !ok {
				t.Fatalf("CronSchedule() is a %T, want a *cron.SpecSchedule", s)
			}
			if got := parsed.Location.String(); got != tc.wantZone {
				t.Errorf("the schedule is read in %s, want %s", got, tc.wantZone)
			}
		})
	}
}
