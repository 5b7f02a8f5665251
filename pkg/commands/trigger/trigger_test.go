package trigger

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/client/clientset/versioned/fake"
	eventingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/eventing/v1"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/params"
)

const ns = commandstest.Namespace

// newParams returns parameters whose Eventing client is a fake
// clientset holding objs.
func newParams(t *testing.T, objs ...runtime.Object) (*params.Params, *fake.Clientset) {
	t.Helper()
	p, client := commandstest.NewParams(t, objs...)
	p.NewEventingClient = func() (eventingv1client.EventingV1Interface, error) { return client.EventingV1(), nil }
	return p, client
}

// run runs `fw trigger ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := newParams(t, objs...)
	out, err := commandstest.Run(t, NewTriggerCommand(p), args...)
	return out, client, err
}

func ksvc(name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: name}}
}

// trigger is a Trigger of the Broker default to the Knative Service
// hello, as the platform reports it once ready.
func trigger(name string, opts ...func(*eventingv1.Trigger)) *eventingv1.Trigger {
	t := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
			Labels:            map[string]string{eventing.BrokerLabel.String(): "default"},
		},
		Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: ksvc("hello")},
	}
	t.Status.ObservedGeneration = 1
	t.Status.SubscriberURI = &apis.URL{Scheme: "http", Host: "hello.demo.svc.cluster.local"}
	t.Status.Conditions = duckv1.Conditions{
		{Type: eventingv1.TriggerConditionBroker, Status: corev1.ConditionTrue},
		{Type: eventingv1.TriggerConditionDeadLetterSinkResolved, Status: corev1.ConditionTrue, Reason: "DeadLetterSinkNotConfigured"},
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue,
			LastTransitionTime: apis.VolatileTime{Inner: metav1.NewTime(commandstest.Now.Add(-9 * time.Minute))}},
		{Type: eventingv1.TriggerConditionSubscriberResolved, Status: corev1.ConditionTrue},
		{Type: eventingv1.TriggerConditionSubscription, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

func filtered(attrs map[string]string) func(*eventingv1.Trigger) {
	return func(t *eventingv1.Trigger) { t.Spec.Filter = &eventingv1.TriggerFilter{Attributes: attrs} }
}

func getTrigger(t *testing.T, client *fake.Clientset, name string) *eventingv1.Trigger {
	t.Helper()
	got, err := client.EventingV1().Triggers(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting Trigger %s: %v", name, err)
	}
	return got
}

// writes lists the create, update and delete calls the command made.
func writes(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" || a.GetVerb() == "update" || a.GetVerb() == "delete" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func checkContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

func TestCreateBuildsTheTrigger(t *testing.T) {
	out, client, err := run(t, nil, "create", "orders", "--broker", "default", "--sink", "ksvc:orders",
		"--filter", "type=com.example.order.placed", "--filter", "source=/shop", "--filter", "region=",
		"--ordered", "--retry", "3", "--backoff-policy", "linear", "--backoff-delay", "PT1S", "--timeout", "PT30S",
		"--dl-sink", "broker:errors")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := "Created Trigger orders of Broker default in namespace demo.\nSee whether it is ready with fw trigger describe orders -n demo\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
	wantTrigger := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{
			Name: "orders", Namespace: ns,
			Annotations: map[string]string{"flywheel.dev/delivery-order": "ordered"},
		},
		Spec: eventingv1.TriggerSpec{
			Broker: "default",
			Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{
				"type": "com.example.order.placed", "source": "/shop", "region": "",
			}},
			Subscriber: ksvc("orders"),
			Delivery: &eventingv1.DeliverySpec{
				DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{
					APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: ns, Name: "errors",
				}},
				Retry:         ptr.To[int32](3),
				BackoffPolicy: ptr.To(eventingv1.BackoffPolicyLinear),
				BackoffDelay:  ptr.To("PT1S"),
				Timeout:       ptr.To("PT30S"),
			},
		},
	}
	if diff := cmp.Diff(wantTrigger, getTrigger(t, client, "orders")); diff != "" {
		t.Errorf("created Trigger (-want, +got):\n%s", diff)
	}
}

func TestCreateTakesEachFormOfSink(t *testing.T) {
	for _, tc := range []struct {
		sink string
		want duckv1.Destination
	}{
		{"ksvc:hello", ksvc("hello")},
		{"svc:audit-log", duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: "audit-log"}}},
		{"broker:archive", duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Namespace: ns, Name: "archive"}}},
		{"https://hooks.example.com/events", duckv1.Destination{URI: &apis.URL{Scheme: "https", Host: "hooks.example.com", Path: "/events"}}},
	} {
		t.Run(tc.sink, func(t *testing.T) {
			_, client, err := run(t, nil, "create", "t", "--broker", "default", "--sink", tc.sink)
			if err != nil {
				t.Fatal(err)
			}
			got := getTrigger(t, client, "t")
			if diff := cmp.Diff(tc.want, got.Spec.Subscriber); diff != "" {
				t.Errorf("subscriber (-want, +got):\n%s", diff)
			}
			if got.Spec.Filter != nil || got.Spec.Delivery != nil || got.Annotations != nil {
				t.Errorf("flags not given set %+v", got)
			}
		})
	}
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	base := []string{"create", "t", "--broker", "default"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"create", "--broker", "default", "--sink", "ksvc:a"}, "give the name of one Trigger"},
		{"no broker", []string{"create", "t", "--sink", "ksvc:a"}, "--broker is required: the Broker whose events the Trigger delivers, e.g. --broker default"},
		{"no sink", base, "--sink is required: where the events go, e.g. --sink ksvc:hello"},
		{"bare name", append(base, "--sink", "hello"),
			`--sink "hello": want ksvc:NAME for a Knative Service, svc:NAME for a Kubernetes Service, broker:NAME for a Broker, or a URL with a scheme, e.g. ksvc:hello`},
		{"unknown kind", append(base, "--sink", "channel:pipe"), `--sink "channel:pipe": want ksvc:NAME`},
		{"bad name", append(base, "--sink", "ksvc:Hello"), `--sink "ksvc:Hello": "Hello" is not the name of a Knative Service`},
		{"empty name", append(base, "--sink", "svc:"), `--sink "svc:": "" is not the name of a Kubernetes Service`},
		{"filter without =", append(base, "--sink", "ksvc:a", "--filter", "type"),
			`--filter "type": want KEY=VALUE to deliver only events whose attribute KEY is VALUE, e.g. --filter type=com.example.order.placed, or KEY- to remove the filter on KEY`},
		{"filter on a bad name", append(base, "--sink", "ksvc:a", "--filter", "Type=x"),
			`--filter "Type=x": "Type" is not a CloudEvents attribute name, which holds only lower-case letters and digits`},
		{"filter without a name", append(base, "--sink", "ksvc:a", "--filter", "=x"), `--filter "=x": the attribute name before = is missing`},
		{"bad dead-letter sink", append(base, "--sink", "ksvc:a", "--dl-sink", "errors"), `--dl-sink "errors": want ksvc:NAME`},
		{"bad timeout", append(base, "--sink", "ksvc:a", "--timeout", "5s"), `--timeout "5s": write a duration above zero in ISO 8601, e.g. --timeout PT5S`},
		{"ordered both ways", append(base, "--sink", "ksvc:a", "--ordered", "--no-ordered"), "--ordered and --no-ordered contradict each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, err := run(t, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to say %q", err, tc.want)
			}
			if w := writes(client); len(w) > 0 {
				t.Errorf("the command sent %v before refusing", w)
			}
		})
	}
}

func TestFlagErrorsComeBeforeConnecting(t *testing.T) {
	for _, args := range [][]string{
		{"create", "t", "--broker", "default", "--sink", "hello"},
		{"update", "t", "--sink", "hello"},
	} {
		p := &params.Params{Kubeconfig: filepath.Join(t.TempDir(), "missing")}
		_, err := commandstest.Run(t, NewTriggerCommand(p), args...)
		if err == nil || !strings.HasPrefix(err.Error(), `--sink "hello":`) {
			t.Errorf("%s: error = %v, want the --sink error", args[0], err)
		}
	}
}

func TestCreateAnExistingTriggerSaysHowToChangeIt(t *testing.T) {
	_, _, err := run(t, []runtime.Object{trigger("orders")}, "create", "orders", "--broker", "default", "--sink", "ksvc:a")
	if err == nil || err.Error() != "a Trigger orders already exists in namespace demo: change it with fw trigger update orders" {
		t.Errorf("error = %v", err)
	}
}

func TestUpdateAddsChangesAndRemovesFilters(t *testing.T) {
	before := trigger("orders", filtered(map[string]string{"type": "com.example.order.placed", "source": "/shop"}))
	p, client := newParams(t, before)
	out, err := commandstest.Run(t, NewTriggerCommand(p), "update", "orders",
		"--filter", "type=com.example.order.paid", "--filter", "source-", "--filter", "region=eu")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if want := "Updated Trigger orders in namespace demo.\n"; out != want {
		t.Errorf("output = %q, want %q", out, want)
	}
	want := before.DeepCopy()
	want.Spec.Filter.Attributes = eventingv1.TriggerFilterAttributes{"type": "com.example.order.paid", "region": "eu"}
	if diff := cmp.Diff(want, getTrigger(t, client, "orders")); diff != "" {
		t.Errorf("updated Trigger (-want, +got):\n%s", diff)
	}

	// Removing the last ones leaves no filter: every event goes.
	if out, err := commandstest.Run(t, NewTriggerCommand(p), "update", "orders", "--filter", "type-", "--filter", "region-"); err != nil {
		t.Fatalf("second update: %v\n%s", err, out)
	}
	if f := getTrigger(t, client, "orders").Spec.Filter; f != nil {
		t.Errorf("filter = %+v, want none", f)
	}
}

func TestUpdateChangesOnlyWhatIsGiven(t *testing.T) {
	before := trigger("orders", filtered(map[string]string{"type": "com.example.order.placed"}), func(t *eventingv1.Trigger) {
		t.Annotations = map[string]string{eventing.DeliveryOrderAnnotation.String(): eventing.DeliveryOrderOrdered, "team": "shop"}
		t.Spec.Delivery = &eventingv1.DeliverySpec{Retry: ptr.To[int32](3), Timeout: ptr.To("PT10S")}
	})
	_, client, err := run(t, []runtime.Object{before}, "update", "orders", "--sink", "svc:orders-v2", "--no-ordered", "--retry", "5")
	if err != nil {
		t.Fatal(err)
	}
	want := before.DeepCopy()
	want.Spec.Subscriber = duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: "orders-v2"}}
	want.Annotations = map[string]string{"team": "shop"}
	want.Spec.Delivery.Retry = ptr.To[int32](5)
	if diff := cmp.Diff(want, getTrigger(t, client, "orders")); diff != "" {
		t.Errorf("updated Trigger (-want, +got):\n%s", diff)
	}
}

func TestUpdateWithNothingToChangeWritesNothing(t *testing.T) {
	// The sink as the webhook stored it, with its namespace, is the one
	// the flag gives.
	before := trigger("orders", filtered(map[string]string{"type": "x"}))
	out, client, err := run(t, []runtime.Object{before}, "update", "orders", "--sink", "ksvc:hello", "--filter", "type=x", "--no-ordered")
	if err != nil {
		t.Fatal(err)
	}
	if w := writes(client); len(w) > 0 {
		t.Errorf("the command sent %v, want nothing", w)
	}
	checkContains(t, "the output", out, "Nothing to change in Trigger orders in namespace demo.")
}

func TestUpdateAMissingTriggerSaysHowToCreateIt(t *testing.T) {
	_, _, err := run(t, nil, "update", "orders", "--sink", "ksvc:hello")
	if err == nil || err.Error() != "no Trigger orders in namespace demo: create it with fw trigger create orders --broker BROKER --sink SINK" {
		t.Errorf("error = %v", err)
	}
}

func TestDelete(t *testing.T) {
	out, client, err := run(t, []runtime.Object{trigger("orders"), trigger("audit")}, "delete", "orders", "audit", "nope")
	checkContains(t, "the output", out, "Deleted Trigger orders in namespace demo.\n", "Deleted Trigger audit in namespace demo.\n")
	if err == nil || !strings.Contains(err.Error(), "no Trigger nope in namespace demo") {
		t.Errorf("error = %v, want it to name the missing Trigger", err)
	}
	list, _ := client.EventingV1().Triggers(ns).List(t.Context(), metav1.ListOptions{})
	if len(list.Items) != 0 {
		t.Errorf("Triggers left: %v", list.Items)
	}
}
