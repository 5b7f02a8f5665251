package v1

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"

	// The time zones are compiled in: whether the webhook accepts a zone,
	// and when the adapter ticks in it, must not depend on the zone files
	// of the image or host each runs on.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	"knative.dev/pkg/apis"
)

// Validate checks a PingSource: a schedule that parses in a time zone that
// exists, at most one of data and dataBase64, data that matches its
// content type, a sink and valid CloudEvents overrides.
func (p *PingSource) Validate(ctx context.Context) *apis.FieldError {
	return p.Spec.validate(ctx).ViaField("spec")
}

func (ps *PingSourceSpec) validate(ctx context.Context) *apis.FieldError {
	_, errs := ps.CronSchedule()
	errs = errs.Also(ps.validateData())
	return errs.Also(validateSourceSpec(ctx, &ps.SourceSpec))
}

// scheduleFix is the fix offered for a schedule that does not parse.
const scheduleFix = "write five fields, minute hour day-of-month month day-of-week, such as 0 9 * * 1-5 for 09:00 on weekdays, or a descriptor such as @hourly"

// zoneFix is the fix offered for a time zone that does not exist.
const zoneFix = "use an IANA time zone name such as Europe/Berlin, America/New_York or UTC"

// CronSchedule parses the schedule in its time zone. The webhook refuses a
// PingSource for which it fails, and the adapter ticks by what it returns,
// so that both read a schedule by the same rules. An empty schedule is
// DefaultSchedule; no time zone is UTC, so that a source ticks at the same
// moment whatever the zone of the machine the adapter runs on.
func (ps *PingSourceSpec) CronSchedule() (cron.Schedule, *apis.FieldError) {
	schedule := strings.TrimSpace(ps.Schedule)
	if schedule == "" {
		schedule = DefaultSchedule
	}
	zone, fields, prefixed := cutZonePrefix(schedule)
	zoneField := "schedule"
	switch {
	case prefixed && ps.Timezone != "":
		return nil, &apis.FieldError{
			Message: fmt.Sprintf("the time zone is given twice: timezone %q and a prefix in schedule %q", ps.Timezone, ps.Schedule),
			Paths:   []string{"schedule", "timezone"},
			Details: "keep timezone and remove the CRON_TZ= prefix from the schedule",
		}
	case prefixed && zone == "":
		return nil, &apis.FieldError{
			Message: fmt.Sprintf("schedule %q has a time zone prefix without a zone", ps.Schedule),
			Paths:   []string{"schedule"},
			Details: "write CRON_TZ=<zone> followed by the schedule, or set timezone instead; " + zoneFix,
		}
	case !prefixed:
		zone, zoneField = ps.Timezone, "timezone"
		if zone == "" {
			zone = "UTC"
		}
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return nil, &apis.FieldError{
			Message: fmt.Sprintf("unknown time zone %q", zone),
			Paths:   []string{zoneField},
			Details: zoneFix,
		}
	}
	if strings.HasPrefix(fields, "@every") {
		// A fixed interval counts from when the adapter started, so a
		// restart or a second replica would move or repeat the ticks.
		return nil, &apis.FieldError{
			Message: fmt.Sprintf("schedule %q: @every is not supported", ps.Schedule),
			Paths:   []string{"schedule"},
			Details: "write the interval as a cron schedule, such as */5 * * * * for every five minutes",
		}
	}
	// The zone goes back as a prefix, which the parser reads itself; it
	// is known to load and to be followed by a space, without which the
	// parser would fail on a bare "CRON_TZ=zone".
	s, err := cron.ParseStandard("CRON_TZ=" + zone + " " + fields)
	if err != nil {
		return nil, &apis.FieldError{
			Message: fmt.Sprintf("invalid schedule %q: %v", ps.Schedule, err),
			Paths:   []string{"schedule"},
			Details: scheduleFix,
		}
	}
	return s, nil
}

// cutZonePrefix splits a schedule led by CRON_TZ=<zone> (or TZ=<zone>, which
// the cron library reads too) into the zone and the rest.
func cutZonePrefix(schedule string) (zone, rest string, prefixed bool) {
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if after, ok := strings.CutPrefix(schedule, prefix); ok {
			zone, rest, _ = strings.Cut(after, " ")
			return zone, strings.TrimSpace(rest), true
		}
	}
	return "", schedule, false
}

// validateData checks that at most one of data and dataBase64 is set, that
// dataBase64 decodes, and that data declared as JSON is JSON: the adapter
// would otherwise send, every tick, an event its receivers cannot read.
func (ps *PingSourceSpec) validateData() *apis.FieldError {
	data := []byte(ps.Data)
	field := "data"
	switch {
	case ps.Data != "" && ps.DataBase64 != "":
		return &apis.FieldError{
			Message: "expected at most one of data and dataBase64, got both",
			Paths:   []string{"data", "dataBase64"},
			Details: "put text in data, or bytes encoded as base64 in dataBase64",
		}
	case ps.DataBase64 != "":
		decoded, err := base64.StdEncoding.DecodeString(ps.DataBase64)
		if err != nil {
			return &apis.FieldError{
				Message: fmt.Sprintf("dataBase64 is not standard base64: %v", err),
				Paths:   []string{"dataBase64"},
				Details: "encode the bytes with standard base64 and padding (base64 -w0 file), or put text in data instead",
			}
		}
		data, field = decoded, "dataBase64"
	}
	if len(data) > 0 && isJSON(ps.ContentType) && !json.Valid(data) {
		return &apis.FieldError{
			Message: fmt.Sprintf("%s is not valid JSON, but contentType says %s", field, ps.ContentType),
			Paths:   []string{field},
			Details: "correct the JSON, or set contentType to the media type of the data, such as text/plain",
		}
	}
	return nil
}

// isJSON reports whether a content type is application/json, whatever its
// parameters (charset=utf-8).
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}
