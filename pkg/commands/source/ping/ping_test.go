package ping

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/source/sourcecmd"
	"flywheel.dev/pkg/commands/source/sourcetest"
)

const ns = sourcetest.Namespace

// run runs `fw source ping ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := sourcetest.NewParams(t, objs...)
	out, err := commandstest.Run(t, NewPingCommand(p), args...)
	return out, client, err
}

func brokerSink(name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: ns, Name: name}}
}

// pingSource is a PingSource that sends JSON every two minutes to the
// Broker default, as the platform reports it once ready.
func pingSource(name string, opts ...func(*sourcesv1.PingSource)) *sourcesv1.PingSource {
	s := &sourcesv1.PingSource{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
		},
		Spec: sourcesv1.PingSourceSpec{
			SourceSpec:  duckv1.SourceSpec{Sink: brokerSink("default")},
			Schedule:    "*/2 * * * *",
			Data:        `{"beat":1}`,
			ContentType: "application/json",
		},
	}
	s.Status.ObservedGeneration = 1
	s.Status.SinkURI = &apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/demo/default"}
	s.Status.CloudEventAttributes = []duckv1.CloudEventAttributes{{Type: "dev.knative.sources.ping", Source: "/apis/v1/namespaces/demo/pingsources/" + name}}
	s.Status.Conditions = duckv1.Conditions{
		{Type: sourcesv1.PingSourceConditionDeployed, Status: corev1.ConditionTrue},
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue,
			LastTransitionTime: apis.VolatileTime{Inner: metav1.NewTime(commandstest.Now.Add(-9 * time.Minute))}},
		{Type: sourcesv1.ConditionSinkProvided, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// status sets a condition of a PingSource, and Ready to match.
func status(typ apis.ConditionType, s corev1.ConditionStatus, reason, message string) func(*sourcesv1.PingSource) {
	return func(p *sourcesv1.PingSource) {
		for i := range p.Status.Conditions {
			c := &p.Status.Conditions[i]
			if c.Type == typ || c.Type == apis.ConditionReady {
				c.Status, c.Reason, c.Message = s, reason, message
			}
		}
	}
}

func getPingSource(t *testing.T, client *fake.Clientset, name string) *sourcesv1.PingSource {
	t.Helper()
	got, err := client.SourcesV1().PingSources(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting PingSource %s: %v", name, err)
	}
	return got
}

func checkContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

func TestCreateBuildsThePingSource(t *testing.T) {
	out, client, err := run(t, nil, "create", "standup", "--schedule", "0 9 * * 1-5", "--timezone", "Europe/Berlin",
		"--data", `{"meeting": "standup"}`, "--content-type", "application/json",
		"--ce-override", "team=ops", "--ce-override", "region=eu", "--sink", "broker:default", "--no-wait")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := "Created PingSource standup in namespace demo.\nNot waiting for it to become ready; see fw source ping describe standup -n demo\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
	wantSource := &sourcesv1.PingSource{
		ObjectMeta: metav1.ObjectMeta{Name: "standup", Namespace: ns},
		Spec: sourcesv1.PingSourceSpec{
			SourceSpec: duckv1.SourceSpec{
				Sink:                brokerSink("default"),
				CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "ops", "region": "eu"}},
			},
			Schedule:    "0 9 * * 1-5",
			Timezone:    "Europe/Berlin",
			Data:        `{"meeting": "standup"}`,
			ContentType: "application/json",
		},
	}
	if diff := cmp.Diff(wantSource, getPingSource(t, client, "standup")); diff != "" {
		t.Errorf("created PingSource (-want, +got):\n%s", diff)
	}
}

func TestCreateLeavesTheDefaultsToTheWebhook(t *testing.T) {
	_, client, err := run(t, nil, "create", "heartbeat", "--sink", "https://events.example.com/in", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	want := &sourcesv1.PingSource{
		ObjectMeta: metav1.ObjectMeta{Name: "heartbeat", Namespace: ns},
		Spec: sourcesv1.PingSourceSpec{SourceSpec: duckv1.SourceSpec{
			Sink: duckv1.Destination{URI: &apis.URL{Scheme: "https", Host: "events.example.com", Path: "/in"}},
		}},
	}
	if diff := cmp.Diff(want, getPingSource(t, client, "heartbeat")); diff != "" {
		t.Errorf("created PingSource (-want, +got):\n%s", diff)
	}
}

func TestCreateWithBase64Data(t *testing.T) {
	_, client, err := run(t, nil, "create", "blob", "-d", "aGVsbG8=", "-e", "base64", "--sink", "ksvc:hello", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	got := getPingSource(t, client, "blob").Spec
	if got.DataBase64 != "aGVsbG8=" || got.Data != "" {
		t.Errorf("data = %q, dataBase64 = %q; want the base64 in dataBase64 only", got.Data, got.DataBase64)
	}
}

func TestCreateWaitsAndPrintsTheSink(t *testing.T) {
	p, client := sourcetest.NewParams(t)
	sourcetest.ServeWatch(client, "pingsources",
		pingSource("heartbeat", status(sourcesv1.PingSourceConditionDeployed, corev1.ConditionUnknown, "DeploymentUnavailable", "")),
		pingSource("heartbeat"),
	)
	out, err := commandstest.Run(t, NewPingCommand(p), "create", "heartbeat", "--sink", "broker:default")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := `Created PingSource heartbeat in namespace demo.
Waiting for PingSource heartbeat to become ready...
PingSource heartbeat is ready, sending to:
http://broker-ingress.flywheel-system.svc.cluster.local/demo/default
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func TestCreateFailsWithTheReasonOfTheFailure(t *testing.T) {
	p, client := sourcetest.NewParams(t)
	sourcetest.ServeWatch(client, "pingsources", pingSource("heartbeat", status(sourcesv1.ConditionSinkProvided, corev1.ConditionFalse,
		"NotFound", `brokers.eventing.knative.dev "nope" not found`)))
	out, err := commandstest.Run(t, NewPingCommand(p), "create", "heartbeat", "--sink", "broker:nope", "--wait-window", "10ms")
	if err == nil {
		t.Fatalf("create succeeded, want it to fail:\n%s", out)
	}
	want := `the PingSource heartbeat failed: SinkProvided is False (NotFound): brokers.eventing.knative.dev "nope" not found`
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestCreateTimesOutSayingWhatItWaitsFor(t *testing.T) {
	p, client := sourcetest.NewParams(t)
	sourcetest.ServeWatch(client, "pingsources", pingSource("heartbeat", status(sourcesv1.PingSourceConditionDeployed, corev1.ConditionUnknown,
		"DeploymentUnavailable", `The Deployment "pingsource-adapter" has not reported whether it is available yet.`)))
	_, err := commandstest.Run(t, NewPingCommand(p), "create", "heartbeat", "--sink", "broker:default", "--wait-timeout", "50ms")
	if err == nil {
		t.Fatal("create succeeded, want a timeout")
	}
	checkContains(t, "the error", err.Error(),
		"the PingSource heartbeat did not become ready within 50ms; it says Deployed is Unknown (DeploymentUnavailable): The Deployment",
		"Wait longer with --wait-timeout, or see fw source ping describe heartbeat")
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	base := []string{"create", "p", "--sink", "broker:default"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"create", "--sink", "broker:default"}, "give the name of one PingSource"},
		{"no sink", []string{"create", "p"}, "--sink is required: where the PingSource sends its events, e.g. --sink broker:default"},
		{"bare sink", []string{"create", "p", "--sink", "hello"}, `--sink "hello": want ksvc:NAME for a Knative Service`},
		{"bad schedule", append(base, "--schedule", "* * *"),
			`--schedule "* * *": invalid schedule "* * *": expected exactly 5 fields, found 3: [* * *]; write five fields, minute hour day-of-month month day-of-week`},
		{"@every", append(base, "--schedule", "@every 1m"), `--schedule "@every 1m": schedule "@every 1m": @every is not supported; write the interval as a cron schedule`},
		{"unknown zone", append(base, "--timezone", "Mars/Olympus"),
			`--timezone "Mars/Olympus": unknown time zone "Mars/Olympus"; use an IANA time zone name such as Europe/Berlin`},
		{"zone twice", append(base, "--schedule", "CRON_TZ=UTC 0 9 * * *", "--timezone", "Europe/Berlin"),
			`--schedule "CRON_TZ=UTC 0 9 * * *" with --timezone "Europe/Berlin": the time zone is given twice`},
		{"encoding without data", append(base, "--encoding", "base64"), "--encoding says how --data is written: give --data too"},
		{"unknown encoding", append(base, "--data", "x", "--encoding", "hex"), `--encoding "hex": want text or base64`},
		{"not base64", append(base, "--data", "hello!", "--encoding", "base64"), "--data is not standard base64 (illegal base64 data at input byte 5)"},
		{"not JSON", append(base, "--data", "{oops", "--content-type", "application/json"),
			"--data is not valid JSON, but the content type is application/json: correct the JSON, or give --content-type the media type of the data"},
		{"not a media type", append(base, "--content-type", "json;;"), `--content-type "json;;": not a media type`},
		{"override without =", append(base, "--ce-override", "team"), `--ce-override "team": want KEY=VALUE`},
		{"override with a bad name", append(base, "--ce-override", "My-Team=ops"),
			`--ce-override "My-Team=ops": "My-Team" is not an attribute name: CloudEvents attribute names hold only lower-case letters and digits; write it as myteam`},
		{"wait and no-wait", append(base, "--wait", "--no-wait"), "--wait and --no-wait contradict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, err := run(t, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to say %q", err, tc.want)
			}
			if w := sourcetest.Writes(client); len(w) > 0 {
				t.Errorf("the command sent %v before refusing", w)
			}
		})
	}
}

func TestFlagErrorsComeBeforeConnecting(t *testing.T) {
	for _, args := range [][]string{
		{"create", "p", "--sink", "broker:default", "--schedule", "nope"},
		{"update", "p", "--schedule", "nope"},
	} {
		p := &sourcecmd.Params{Params: &params.Params{Kubeconfig: filepath.Join(t.TempDir(), "missing")}}
		_, err := commandstest.Run(t, NewPingCommand(p), args...)
		if err == nil || !strings.HasPrefix(err.Error(), `--schedule "nope":`) {
			t.Errorf("%s: error = %v, want the --schedule error", args[0], err)
		}
	}
}

// TestTheWebhooksRefusalReachesTheUser: what the flags cannot check (a
// rule of a newer webhook) comes back as the API said it.
func TestTheWebhooksRefusalReachesTheUser(t *testing.T) {
	const refusal = `admission webhook "validation.webhook.sources.flywheel.dev" denied the request: validation failed: ` +
		`invalid value "nope": spec.sink.ref.kind`
	for _, args := range [][]string{
		{"create", "heartbeat", "--sink", "broker:default"},
		{"update", "heartbeat", "--sink", "broker:other"},
	} {
		p, client := sourcetest.NewParams(t, pingSource("heartbeat"))
		client.PrependReactor(args[0], "pingsources", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrs.NewBadRequest(refusal)
		})
		_, err := commandstest.Run(t, NewPingCommand(p), args...)
		verb := map[string]string{"create": "creating", "update": "updating"}[args[0]]
		if want := verb + " PingSource heartbeat: " + refusal; err == nil || err.Error() != want {
			t.Errorf("%s: error = %v, want %q", args[0], err, want)
		}
	}
}

func TestCreateAnExistingPingSourceSaysHowToChangeIt(t *testing.T) {
	_, _, err := run(t, []runtime.Object{pingSource("heartbeat")}, "create", "heartbeat", "--sink", "broker:default")
	want := "a PingSource heartbeat already exists in namespace demo: change it with fw source ping update heartbeat"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestUpdateChangesOnlyWhatIsGiven(t *testing.T) {
	before := pingSource("heartbeat", func(s *sourcesv1.PingSource) {
		s.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "ops", "region": "eu"}}
	})
	out, client, err := run(t, []runtime.Object{before}, "update", "heartbeat", "--schedule", "*/5 * * * *",
		"--ce-override", "team-", "--ce-override", "region=us", "--no-wait")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	want := before.DeepCopy()
	want.Spec.Schedule = "*/5 * * * *"
	want.Spec.CloudEventOverrides.Extensions = map[string]string{"region": "us"}
	if diff := cmp.Diff(want, getPingSource(t, client, "heartbeat")); diff != "" {
		t.Errorf("updated PingSource (-want, +got):\n%s", diff)
	}
	checkContains(t, "the output", out, "Updated PingSource heartbeat in namespace demo.\n")
}

func TestUpdateSwitchesBetweenTextAndBase64Data(t *testing.T) {
	p, client := sourcetest.NewParams(t, pingSource("heartbeat", func(s *sourcesv1.PingSource) { s.Spec.ContentType = "" }))
	if _, err := commandstest.Run(t, NewPingCommand(p), "update", "heartbeat", "--data", "aGVsbG8=", "--encoding", "base64", "--no-wait"); err != nil {
		t.Fatal(err)
	}
	if got := getPingSource(t, client, "heartbeat").Spec; got.Data != "" || got.DataBase64 != "aGVsbG8=" {
		t.Errorf("after --encoding base64: data = %q, dataBase64 = %q", got.Data, got.DataBase64)
	}
	if _, err := commandstest.Run(t, NewPingCommand(p), "update", "heartbeat", "--data", "hello", "--no-wait"); err != nil {
		t.Fatal(err)
	}
	if got := getPingSource(t, client, "heartbeat").Spec; got.Data != "hello" || got.DataBase64 != "" {
		t.Errorf("after text: data = %q, dataBase64 = %q", got.Data, got.DataBase64)
	}
	if _, err := commandstest.Run(t, NewPingCommand(p), "update", "heartbeat", "--data", "", "--no-wait"); err != nil {
		t.Fatal(err)
	}
	if got := getPingSource(t, client, "heartbeat").Spec; got.Data != "" || got.DataBase64 != "" {
		t.Errorf("after an empty --data: data = %q, dataBase64 = %q", got.Data, got.DataBase64)
	}
}

func TestUpdateHoldsNewDataToTheContentTypeTheSourceHas(t *testing.T) {
	_, client, err := run(t, []runtime.Object{pingSource("heartbeat")}, "update", "heartbeat", "--data", "not json", "--no-wait")
	if err == nil || !strings.Contains(err.Error(), "--data is not valid JSON, but the content type is application/json") {
		t.Errorf("error = %v, want the JSON error", err)
	}
	if w := sourcetest.Writes(client); len(w) > 0 {
		t.Errorf("the command sent %v", w)
	}
}

func TestUpdateWithNothingToChangeWritesNothing(t *testing.T) {
	out, client, err := run(t, []runtime.Object{pingSource("heartbeat")},
		"update", "heartbeat", "--sink", "broker:default", "--schedule", "*/2 * * * *", "--data", `{"beat":1}`)
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if w := sourcetest.Writes(client); len(w) > 0 {
		t.Errorf("the command sent %v, want nothing", w)
	}
	// It still waits, and the source is ready.
	want := `Nothing to change in PingSource heartbeat in namespace demo.
Waiting for PingSource heartbeat to become ready...
PingSource heartbeat is ready, sending to:
http://broker-ingress.flywheel-system.svc.cluster.local/demo/default
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func TestUpdateAMissingPingSourceSaysHowToCreateIt(t *testing.T) {
	_, _, err := run(t, nil, "update", "heartbeat", "--schedule", "@hourly")
	want := "no PingSource heartbeat in namespace demo: create it with fw source ping create heartbeat --sink SINK"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestUpdateRefusesASourceBeingDeleted(t *testing.T) {
	deleting := pingSource("heartbeat", func(s *sourcesv1.PingSource) {
		s.DeletionTimestamp = &metav1.Time{Time: commandstest.Now}
		s.Finalizers = []string{"pingsources.sources.knative.dev"}
	})
	_, client, err := run(t, []runtime.Object{deleting}, "update", "heartbeat", "--schedule", "@hourly")
	if err == nil || !strings.Contains(err.Error(), "the PingSource heartbeat is being deleted") {
		t.Errorf("error = %v", err)
	}
	if w := sourcetest.Writes(client); len(w) > 0 {
		t.Errorf("the command sent %v", w)
	}
}

func TestDelete(t *testing.T) {
	out, client, err := run(t, []runtime.Object{pingSource("heartbeat"), pingSource("standup")}, "delete", "heartbeat", "standup", "nope")
	checkContains(t, "the output", out, "Deleted PingSource heartbeat in namespace demo.\n", "Deleted PingSource standup in namespace demo.\n")
	if err == nil || !strings.Contains(err.Error(), "no PingSource nope in namespace demo") {
		t.Errorf("error = %v, want it to name the missing PingSource", err)
	}
	list, _ := client.SourcesV1().PingSources(ns).List(t.Context(), metav1.ListOptions{})
	if len(list.Items) != 0 {
		t.Errorf("PingSources left: %v", list.Items)
	}
}
