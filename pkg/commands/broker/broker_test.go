package broker

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
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

// run runs `fw broker ARGS...` against a fake API holding objs.
func run(t *testing.T, objs []runtime.Object, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	p, client := newParams(t, objs...)
	out, err := commandstest.Run(t, NewBrokerCommand(p), args...)
	return out, client, err
}

// broker is a Broker as the platform reports it once ready.
func broker(name string, opts ...func(*eventingv1.Broker)) *eventingv1.Broker {
	b := &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, Generation: 1,
			CreationTimestamp: metav1.NewTime(commandstest.Now.Add(-10 * time.Minute)),
			Annotations:       map[string]string{eventing.BrokerClassAnnotation.String(): eventing.BrokerClass},
		},
	}
	b.Status.ObservedGeneration = 1
	b.Status.SetAddress(&apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/" + ns + "/" + name})
	b.Status.Conditions = duckv1.Conditions{
		{Type: eventingv1.BrokerConditionAddressable, Status: corev1.ConditionTrue},
		{Type: eventingv1.BrokerConditionDeadLetterSinkResolved, Status: corev1.ConditionTrue, Reason: "DeadLetterSinkNotConfigured"},
		{Type: eventingv1.BrokerConditionIngress, Status: corev1.ConditionTrue},
		{Type: apis.ConditionReady, Status: corev1.ConditionTrue,
			LastTransitionTime: apis.VolatileTime{Inner: metav1.NewTime(commandstest.Now.Add(-9 * time.Minute))}},
		{Type: eventingv1.BrokerConditionStream, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// status sets a condition of a Broker, and Ready to match.
func status(typ apis.ConditionType, s corev1.ConditionStatus, reason, message string) func(*eventingv1.Broker) {
	return func(b *eventingv1.Broker) {
		for i := range b.Status.Conditions {
			cond := &b.Status.Conditions[i]
			if cond.Type == typ || cond.Type == apis.ConditionReady {
				cond.Status, cond.Reason, cond.Message = s, reason, message
			}
		}
	}
}

// serveWatch makes the Brokers watch of client see events, in order.
func serveWatch(client *fake.Clientset, events ...*eventingv1.Broker) {
	w := watch.NewFakeWithChanSize(len(events), false)
	for _, e := range events {
		w.Modify(e)
	}
	client.PrependWatchReactor("brokers", k8stesting.DefaultWatchReactor(w, nil))
}

func getBroker(t *testing.T, client *fake.Clientset, name string) *eventingv1.Broker {
	t.Helper()
	got, err := client.EventingV1().Brokers(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting Broker %s: %v", name, err)
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

func TestCreateWithoutWaiting(t *testing.T) {
	out, client, err := run(t, nil, "create", "orders", "--class", "MTChannelBasedBroker",
		"--dl-sink", "ksvc:errors", "--retry", "5", "--backoff-policy", "exponential",
		"--backoff-delay", "PT0.5S", "--timeout", "PT10S", "--no-wait")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := "Created Broker orders in namespace demo.\nNot waiting for it to become ready; see fw broker describe orders -n demo\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
	got := getBroker(t, client, "orders")
	wantBroker := &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{
			Name: "orders", Namespace: ns,
			Annotations: map[string]string{"eventing.knative.dev/broker.class": "MTChannelBasedBroker"},
		},
		Spec: eventingv1.BrokerSpec{Delivery: &eventingv1.DeliverySpec{
			DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{
				APIVersion: "serving.knative.dev/v1", Kind: "Service", Namespace: ns, Name: "errors",
			}},
			Retry:         ptr.To[int32](5),
			BackoffPolicy: ptr.To(eventingv1.BackoffPolicyExponential),
			BackoffDelay:  ptr.To("PT0.5S"),
			Timeout:       ptr.To("PT10S"),
		}},
	}
	if diff := cmp.Diff(wantBroker, got); diff != "" {
		t.Errorf("created Broker (-want, +got):\n%s", diff)
	}
}

func TestCreatePlainBrokerLeavesTheClassToTheWebhook(t *testing.T) {
	_, client, err := run(t, nil, "create", "default", "--no-wait")
	if err != nil {
		t.Fatal(err)
	}
	want := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if diff := cmp.Diff(want, getBroker(t, client, "default")); diff != "" {
		t.Errorf("created Broker (-want, +got):\n%s", diff)
	}
}

func TestCreateWaitsAndPrintsTheAddress(t *testing.T) {
	p, client := newParams(t)
	serveWatch(client,
		broker("default", status(eventingv1.BrokerConditionIngress, corev1.ConditionUnknown, "NoEndpoints", "")),
		broker("default"),
	)
	out, err := commandstest.Run(t, NewBrokerCommand(p), "create", "default")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	want := `Created Broker default in namespace demo.
Waiting for Broker default to become ready...
Broker default is ready, at:
http://broker-ingress.flywheel-system.svc.cluster.local/demo/default
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func TestCreateFailsWithTheReasonOfTheFailure(t *testing.T) {
	p, client := newParams(t)
	serveWatch(client, broker("default", status(eventingv1.BrokerConditionStream, corev1.ConditionFalse,
		"StreamFailed", "Making the Broker's JetStream stream: nats: no responders available")))
	out, err := commandstest.Run(t, NewBrokerCommand(p), "create", "default", "--wait-window", "10ms")
	if err == nil {
		t.Fatalf("create succeeded, want it to fail:\n%s", out)
	}
	want := "the Broker default failed: StreamReady is False (StreamFailed): Making the Broker's JetStream stream: nats: no responders available"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestCreateTimesOutSayingWhatItWaitsFor(t *testing.T) {
	p, client := newParams(t)
	serveWatch(client, broker("default", status(eventingv1.BrokerConditionIngress, corev1.ConditionUnknown,
		"NoEndpoints", "The broker ingress (Service flywheel-system/broker-ingress) has no ready endpoint yet.")))
	_, err := commandstest.Run(t, NewBrokerCommand(p), "create", "default", "--wait-timeout", "50ms")
	if err == nil {
		t.Fatal("create succeeded, want a timeout")
	}
	checkContains(t, "the error", err.Error(),
		"the Broker default did not become ready within 50ms; it says IngressReady is Unknown (NoEndpoints): The broker ingress",
		"Wait longer with --wait-timeout, or see fw broker describe default")
}

func TestCreateRefusesBadInputBeforeSendingAnything(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"create"}, "give the name of one Broker"},
		{"bare dead-letter sink", []string{"create", "b", "--dl-sink", "errors"}, `--dl-sink "errors": want ksvc:NAME for a Knative Service`},
		{"negative retry", []string{"create", "b", "--retry", "-1"}, "--retry -1"},
		{"unknown policy", []string{"create", "b", "--backoff-policy", "fibonacci"}, `--backoff-policy "fibonacci": want linear or exponential`},
		{"Go duration", []string{"create", "b", "--timeout", "10s"}, "--timeout PT10S"},
		{"wait and no-wait", []string{"create", "b", "--wait", "--no-wait"}, "--wait and --no-wait contradict"},
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
	p := &params.Params{Kubeconfig: filepath.Join(t.TempDir(), "missing")}
	_, err := commandstest.Run(t, NewBrokerCommand(p), "create", "b", "--retry", "-2")
	if err == nil || !strings.HasPrefix(err.Error(), "--retry -2:") {
		t.Errorf("error = %v, want the --retry error", err)
	}
}

func TestCreateAnExistingBroker(t *testing.T) {
	_, _, err := run(t, []runtime.Object{broker("default")}, "create", "default", "--no-wait")
	if err == nil || err.Error() != "a Broker default already exists in namespace demo; see fw broker describe default -n demo" {
		t.Errorf("error = %v", err)
	}
}

func TestDelete(t *testing.T) {
	out, client, err := run(t, []runtime.Object{broker("default"), broker("orders")}, "delete", "default", "orders", "nope")
	checkContains(t, "the output", out, "Deleted Broker default in namespace demo.\n", "Deleted Broker orders in namespace demo.\n")
	if err == nil || !strings.Contains(err.Error(), "no Broker nope in namespace demo") {
		t.Errorf("error = %v, want it to name the missing Broker", err)
	}
	list, _ := client.EventingV1().Brokers(ns).List(t.Context(), metav1.ListOptions{})
	if len(list.Items) != 0 {
		t.Errorf("Brokers left: %v", list.Items)
	}
}
