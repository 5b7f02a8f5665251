package ping

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/sources"
	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// Kind describes PingSources to the verbs every kind of source shares.
var Kind = &sourcecmd.Kind[*sourcesv1.PingSource, *sourcesv1.PingSourceList]{
	Kind:        "PingSource",
	Noun:        "ping",
	Resource:    "pingsources",
	CreateFlags: "--sink SINK",
	Client: func(c sourcesv1client.SourcesV1Interface, ns string) sourcecmd.Client[*sourcesv1.PingSource, *sourcesv1.PingSourceList] {
		return c.PingSources(ns)
	},
	New: func(ns, name string) *sourcesv1.PingSource {
		return &sourcesv1.PingSource{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	},
	Items: func(l *sourcesv1.PingSourceList) []*sourcesv1.PingSource {
		items := make([]*sourcesv1.PingSource, len(l.Items))
		for i := range l.Items {
			items[i] = &l.Items[i]
		}
		return items
	},
	Source: func(s *sourcesv1.PingSource) (*duckv1.SourceSpec, *duckv1.SourceStatus) {
		return &s.Spec.SourceSpec, &s.Status.SourceStatus
	},
	Columns:  []string{"SCHEDULE"},
	Row:      func(s *sourcesv1.PingSource) []string { return []string{schedule(&s.Spec)} },
	Describe: describe,
}

// NewPingCommand returns `fw source ping` and its verbs.
func NewPingCommand(p *sourcecmd.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ping",
		Aliases: []string{"pingsource", "pingsources"},
		Short:   "Create, change, list, describe and delete PingSources",
		Long: `A PingSource sends the same event to its sink at every tick of a cron
schedule: every minute unless told otherwise, in UTC unless it names a
time zone. Each event has the type ` + sources.PingSourceEventType + `, the source
/apis/v1/namespaces/NAMESPACE/pingsources/NAME, and the source's data.`,
	}
	cmd.AddCommand(
		NewPingCreateCommand(p),
		NewPingUpdateCommand(p),
		NewPingListCommand(p),
		NewPingDescribeCommand(p),
		NewPingDeleteCommand(p),
	)
	return cmd
}

// Names of the flags, as errors spell them.
const (
	scheduleFlag    = "schedule"
	timezoneFlag    = "timezone"
	dataFlag        = "data"
	encodingFlag    = "encoding"
	contentTypeFlag = "content-type"

	encodingText   = "text"
	encodingBase64 = "base64"
)

// pingFlags are the PingSource's own flags. Only those given change anything.
type pingFlags struct {
	schedule    string
	timezone    string
	data        string
	encoding    string
	contentType string

	set *pflag.FlagSet
}

var _ sourcecmd.Flags[*sourcesv1.PingSource] = (*pingFlags)(nil)

func (f *pingFlags) Add(fs *pflag.FlagSet) {
	f.set = fs
	fs.StringVar(&f.schedule, scheduleFlag, "",
		"when to send, in cron syntax: minute hour day-of-month month day-of-week, e.g. '*/2 * * * *' for every two minutes, or a descriptor such as @hourly (every minute, "+
			sourcesv1.DefaultSchedule+", when not given)")
	fs.StringVar(&f.timezone, timezoneFlag, "",
		"the IANA time zone the schedule is read in, e.g. Europe/Berlin (UTC when not given); an empty value removes it")
	fs.StringVarP(&f.data, dataFlag, "d", "", "the data of every event, e.g. '{\"greeting\": \"hi\"}'; an empty value removes it")
	fs.StringVarP(&f.encoding, encodingFlag, "e", "",
		"how --data is written: "+encodingText+" (the default) or "+encodingBase64+" for bytes that are not text")
	fs.StringVar(&f.contentType, contentTypeFlag, "",
		"the media type of the data, the events' datacontenttype, e.g. application/json; an empty value removes it")
}

func (f *pingFlags) changed(name string) bool { return f.set != nil && f.set.Changed(name) }

// Require is satisfied: a PingSource needs only its sink.
func (f *pingFlags) Require() error { return nil }

func (f *pingFlags) Apply(s *sourcesv1.PingSource, _ string) error {
	spec := &s.Spec
	if f.changed(scheduleFlag) {
		spec.Schedule = strings.TrimSpace(f.schedule)
	}
	if f.changed(timezoneFlag) {
		spec.Timezone = f.timezone
	}
	if f.changed(scheduleFlag) || f.changed(timezoneFlag) {
		if err := checkSchedule(spec, f.changed(scheduleFlag), f.changed(timezoneFlag)); err != nil {
			return err
		}
	}
	if err := f.applyData(spec); err != nil {
		return err
	}
	if f.changed(contentTypeFlag) {
		if f.contentType != "" {
			if _, _, err := mime.ParseMediaType(f.contentType); err != nil {
				return fmt.Errorf("--%s %q: not a media type (%w), e.g. --%s application/json", contentTypeFlag, f.contentType, err, contentTypeFlag)
			}
		}
		spec.ContentType = f.contentType
	}
	if f.changed(dataFlag) || f.changed(contentTypeFlag) {
		return checkJSON(spec)
	}
	return nil
}

// applyData sets data or dataBase64 as --encoding says, and clears the
// other: the API takes at most one.
func (f *pingFlags) applyData(spec *sourcesv1.PingSourceSpec) error {
	if f.changed(encodingFlag) && !f.changed(dataFlag) {
		return fmt.Errorf("--%s says how --%s is written: give --%s too", encodingFlag, dataFlag, dataFlag)
	}
	if !f.changed(dataFlag) {
		return nil
	}
	switch f.encoding {
	case "", encodingText:
		spec.Data, spec.DataBase64 = f.data, ""
	case encodingBase64:
		if _, err := base64.StdEncoding.DecodeString(f.data); err != nil {
			return fmt.Errorf("--%s is not standard base64 (%w): encode the bytes with base64 -w0, or leave out --%s %s to send the text as it is",
				dataFlag, err, encodingFlag, encodingBase64)
		}
		spec.Data, spec.DataBase64 = "", f.data
	default:
		return fmt.Errorf("--%s %q: want %s or %s", encodingFlag, f.encoding, encodingText, encodingBase64)
	}
	return nil
}

// checkSchedule reads the schedule by the rules the webhook and the
// adapter read it by, and names the flags of what it refuses.
func checkSchedule(spec *sourcesv1.PingSourceSpec, scheduleGiven, timezoneGiven bool) error {
	_, ferr := spec.CronSchedule()
	if ferr == nil {
		return nil
	}
	var named []string
	if slices.Contains(ferr.Paths, "schedule") && scheduleGiven {
		named = append(named, fmt.Sprintf("--%s %q", scheduleFlag, spec.Schedule))
	}
	if slices.Contains(ferr.Paths, "timezone") && timezoneGiven {
		named = append(named, fmt.Sprintf("--%s %q", timezoneFlag, spec.Timezone))
	}
	if len(named) == 0 {
		// The value at fault was there before; name the flag that changes it.
		if slices.Contains(ferr.Paths, "timezone") {
			named = append(named, fmt.Sprintf("--%s (now %q)", timezoneFlag, spec.Timezone))
		} else {
			named = append(named, fmt.Sprintf("--%s (now %q)", scheduleFlag, spec.Schedule))
		}
	}
	return fmt.Errorf("%s: %s; %s", strings.Join(named, " with "), ferr.Message, ferr.Details)
}

// checkJSON refuses data that is not JSON when the content type says it
// is: the adapter would send, every tick, an event its receivers cannot
// read, and the API refuses it too.
func checkJSON(spec *sourcesv1.PingSourceSpec) error {
	mediaType, _, err := mime.ParseMediaType(spec.ContentType)
	if err != nil || mediaType != "application/json" {
		return nil
	}
	data := []byte(spec.Data)
	if spec.DataBase64 != "" {
		data, _ = base64.StdEncoding.DecodeString(spec.DataBase64)
	}
	if len(data) == 0 || json.Valid(data) {
		return nil
	}
	return fmt.Errorf("--%s is not valid JSON, but the content type is %s: correct the JSON, or give --%s the media type of the data, e.g. text/plain",
		dataFlag, spec.ContentType, contentTypeFlag)
}

// schedule shows when a PingSource sends: its schedule, and its time zone
// when it names one.
func schedule(spec *sourcesv1.PingSourceSpec) string {
	s := spec.Schedule
	if s == "" {
		s = sourcesv1.DefaultSchedule
	}
	if spec.Timezone != "" {
		s += " (" + spec.Timezone + ")"
	}
	return s
}

func describe(w io.Writer, s *sourcesv1.PingSource) {
	spec := &s.Spec
	printers.Field(w, "Schedule", schedule(spec))
	switch {
	case spec.DataBase64 != "":
		printers.Field(w, "Data (base64)", spec.DataBase64)
	case spec.Data != "":
		printers.Field(w, "Data", spec.Data)
	}
	if spec.ContentType != "" {
		printers.Field(w, "Content type", spec.ContentType)
	}
}
