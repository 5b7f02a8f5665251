package delivery

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

func TestParseSink(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  duckv1.Destination
	}{
		{"ksvc:hello", duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: "demo", Name: "hello"}}},
		{"svc:audit-log", duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Namespace: "demo", Name: "audit-log"}}},
		{"broker:default", duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: "demo", Name: "default"}}},
		{"https://hooks.example.com/events?x=1", duckv1.Destination{URI: apis.HTTPS("hooks.example.com")}},
		{"http://hello.demo.svc.cluster.local", duckv1.Destination{URI: apis.HTTP("hello.demo.svc.cluster.local")}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			got, err := ParseSink("sink", tc.value, "demo")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.URI != nil {
				tc.want.URI, _ = apis.ParseURL(tc.value)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSink(%q) (-want, +got):\n%s", tc.value, diff)
			}
			if back := FormatDestination(&got, "demo"); back != tc.value {
				t.Errorf("FormatDestination = %q, want it as given, %q", back, tc.value)
			}
		})
	}
}

func TestParseSinkRefusesWhatItCannotRead(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string
	}{
		{"hello", `--sink "hello": want ksvc:NAME for a Knative Service, svc:NAME for a Kubernetes Service, broker:NAME for a Broker, or a URL with a scheme, e.g. ksvc:hello or http://hello.demo.svc.cluster.local`},
		{"", `--sink "": want ksvc:NAME`},
		{"channel:pipe", `e.g. ksvc:hello or`},
		{"ksvc:", `--sink "ksvc:": "" is not the name of a Knative Service`},
		{"svc:Hello_World", `--sink "svc:Hello_World": "Hello_World" is not the name of a Kubernetes Service`},
		{"localhost:8080", `--sink "localhost:8080": want ksvc:NAME`},
		{"/relative/path", `--sink "/relative/path": want ksvc:NAME`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			_, err := ParseSink("sink", tc.value, "demo")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseSink(%q) = %v, want an error saying %q", tc.value, err, tc.want)
			}
		})
	}
}

func TestFormatDestinationOfOtherRefs(t *testing.T) {
	for _, tc := range []struct {
		d    duckv1.Destination
		want string
	}{
		{duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: "other", Name: "hello"}},
			"ksvc:hello in namespace other"},
		{duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "messaging.knative.dev/v1", Kind: "Channel", Name: "pipe"}},
			"Channel pipe (messaging.knative.dev/v1)"},
		{duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "hello"}, URI: &apis.URL{Path: "/events"}},
			"svc:hello, path /events"},
	} {
		if got := FormatDestination(&tc.d, "demo"); got != tc.want {
			t.Errorf("FormatDestination(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// parse registers the flags and parses args as a command line would.
func parse(t *testing.T, args ...string) *Flags {
	t.Helper()
	var f Flags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.Add(fs, "the subscriber")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestApplySetsOnlyWhatIsGiven(t *testing.T) {
	f := parse(t, "--dl-sink", "ksvc:errors", "--retry", "3", "--backoff-policy", "exponential",
		"--backoff-delay", "PT0.2S", "--timeout", "PT10S")
	got, err := f.Apply(nil, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := &eventingv1.DeliverySpec{
		DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: "demo", Name: "errors"}},
		Retry:          ptr.To[int32](3),
		BackoffPolicy:  ptr.To(eventingv1.BackoffPolicyExponential),
		BackoffDelay:   ptr.To("PT0.2S"),
		Timeout:        ptr.To("PT10S"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want, +got):\n%s", diff)
	}

	// A later change keeps the rest; an empty --dl-sink removes the sink.
	again, err := parse(t, "--retry", "0", "--dl-sink", "").Apply(got, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want.DeadLetterSink, want.Retry = nil, ptr.To[int32](0)
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("second Apply (-want, +got):\n%s", diff)
	}
	if got.DeadLetterSink == nil {
		t.Error("Apply changed the spec it was given")
	}

	if none, err := parse(t).Apply(nil, "demo"); err != nil || none != nil {
		t.Errorf("Apply with no flags = %+v, %v; want nil", none, err)
	}
	if none, err := parse(t, "--dl-sink", "").Apply(&eventingv1.DeliverySpec{DeadLetterSink: want.DeadLetterSink}, "demo"); err != nil || none != nil {
		t.Errorf("removing the only setting = %+v, %v; want nil", none, err)
	}
}

func TestCheckRefusesBadValuesNamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--retry", "-1"}, "--retry -1: give the number of retries after the first attempt, 0 or more"},
		{[]string{"--backoff-policy", "random"}, `--backoff-policy "random": want linear or exponential`},
		{[]string{"--backoff-delay", "200ms"}, `--backoff-delay "200ms": write a duration above zero in ISO 8601, e.g. --backoff-delay PT0.2S`},
		{[]string{"--timeout", "1m30s"}, `--timeout "1m30s": write a duration above zero in ISO 8601, e.g. --timeout PT90S`},
		{[]string{"--timeout", "PT0S"}, `--timeout "PT0S": write a duration above zero in ISO 8601, e.g. --timeout PT10S`},
		{[]string{"--dl-sink", "errors"}, `--dl-sink "errors": want ksvc:NAME`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := parse(t, tc.args...).Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
