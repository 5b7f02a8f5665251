//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	utilptr "k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/commands"
	"flywheel.dev/pkg/eventing"
)

// recorderImage records the events it gets and fails or replies as the
// path says (test/e2e/testdata/eventrecorder).
const recorderImage = "ko://flywheel.dev/test/e2e/testdata/eventrecorder"

// record is what the recorder keeps of one event it got.
type record struct {
	Path       string            `json:"path"`
	Attempt    int               `json:"attempt"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Source     string            `json:"source"`
	Extensions map[string]string `json:"extensions"`
	Data       string            `json:"data"`
	Status     int               `json:"status"`
}

// TestBrokerDeliversToMatchingTriggers runs a Broker whose Triggers send
// to one recorder Service at different paths, and checks the delivery
// contract: events in binary and structured mode reach exactly the
// matching Triggers, a subscriber that fails twice gets the event on the
// third try, one that always fails sends it to the dead-letter sink with
// the error extensions, and a reply reaches a second Trigger.
func TestBrokerDeliversToMatchingTriggers(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "broker")
	rec := createRecorder(t, client, ns, "recorder", map[string]string{serving.MinScaleAnnotation.String(): "1"})
	broker := createBroker(t, client, ns, "default", nil)

	recorderRef := func(path string) duckv1.Destination {
		return duckv1.Destination{
			Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "recorder"},
			URI: &apis.URL{Path: path},
		}
	}
	fast := &eventingv1.DeliverySpec{Retry: ptr.Int32(2), BackoffDelay: ptr.String("PT0.05S")}
	withDLS := &eventingv1.DeliverySpec{Retry: ptr.Int32(1), BackoffDelay: ptr.String("PT0.05S"), DeadLetterSink: utilptr.To(recorderRef("/dead-letters"))}
	triggers := []*eventingv1.Trigger{
		trigger(ns, "orders", "default", map[string]string{"type": "com.example.order"}, recorderRef("/orders"), nil),
		trigger(ns, "all", "default", nil, recorderRef("/all"), nil),
		trigger(ns, "flaky", "default", map[string]string{"type": "com.example.flaky"}, recorderRef("/fail/2/flaky"), fast),
		trigger(ns, "broken", "default", map[string]string{"type": "com.example.broken"}, recorderRef("/fail-always"), withDLS),
		trigger(ns, "asks", "default", map[string]string{"type": "com.example.ask"}, recorderRef("/reply/com.example.answer"), nil),
		trigger(ns, "answers", "default", map[string]string{"type": "com.example.answer"}, recorderRef("/answers"), nil),
	}
	for _, tr := range triggers {
		if _, err := client.EventingV1().Triggers(ns).Create(t.Context(), tr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range triggers {
		got := waitTriggerReady(t, client, ns, tr.Name)
		if want := "recorder." + ns + ".svc.cluster.local"; got.Status.SubscriberURI == nil || got.Status.SubscriberURI.Host != want {
			t.Errorf("Trigger %s: subscriberUri %v, want host %s", tr.Name, got.Status.SubscriberURI, want)
		}
	}
	if want := fmt.Sprintf("http://broker-ingress.flywheel-system.svc.cluster.local/%s/default", ns); broker.Status.Address == nil || broker.Status.Address.URL.String() != want {
		t.Errorf("the Broker's address is %v, want %s", broker.Status.Address, want)
	}

	order := newEvent("order-1", "com.example.order", `{"item":"book"}`)
	order.SetExtension("region", "eu")
	sendEvent(t, ns, "default", order, false)
	sendEvent(t, ns, "default", newEvent("order-2", "com.example.order", `{"item":"pen"}`), true)
	sendEvent(t, ns, "default", newEvent("flaky-1", "com.example.flaky", `{}`), false)
	sendEvent(t, ns, "default", newEvent("broken-1", "com.example.broken", `{}`), false)
	sendEvent(t, ns, "default", newEvent("ask-1", "com.example.ask", `{}`), false)

	orders := waitRecords(t, rec, "/orders", func(rs []record) bool { return len(rs) >= 2 })
	byID := map[string]record{}
	for _, r := range orders {
		byID[r.ID] = r
	}
	if r := byID["order-1"]; r.Data != `{"item":"book"}` || r.Extensions["region"] != "eu" || r.Source != "/e2e" {
		t.Errorf("the binary event arrived as %+v", r)
	}
	if r := byID["order-2"]; r.Data != `{"item":"pen"}` {
		t.Errorf("the structured event arrived as %+v", r)
	}
	for _, r := range orders {
		if r.Type != "com.example.order" {
			t.Errorf("/orders got an event of type %s", r.Type)
		}
		if _, ok := r.Extensions["knativebrokerttl"]; ok {
			t.Errorf("the subscriber saw the Broker's hop count: %+v", r)
		}
	}
	flaky := waitRecords(t, rec, "/fail/2/flaky", func(rs []record) bool { return len(rs) >= 3 })
	if last := flaky[len(flaky)-1]; last.Attempt != 3 || last.Status != http.StatusAccepted {
		t.Errorf("the flaky subscriber's last attempt: %+v, want the third, accepted", last)
	}
	dead := waitRecords(t, rec, "/dead-letters", func(rs []record) bool { return len(rs) >= 1 })
	if d := dead[0]; d.ID != "broken-1" || d.Extensions["knativeerrorcode"] != "500" || !strings.Contains(d.Extensions["knativeerrordest"], "/fail-always") || d.Extensions["knativeerrordata"] == "" {
		t.Errorf("the dead-letter sink got %+v, want broken-1 with knativeerrorcode 500, knativeerrordest and knativeerrordata", d)
	}
	if attempts := len(records(t, rec, "/fail-always")); attempts != 2 {
		t.Errorf("the failing subscriber got %d attempts, want 2 (retry 1)", attempts)
	}
	answers := waitRecords(t, rec, "/answers", func(rs []record) bool { return len(rs) >= 1 })
	if a := answers[0]; a.ID != "reply-ask-1" || a.Type != "com.example.answer" {
		t.Errorf("the reply arrived as %+v", a)
	}
	// Every event reached the Trigger without a filter, replies too.
	waitRecords(t, rec, "/all", func(rs []record) bool { return len(rs) >= 6 })
	time.Sleep(time.Second) // let anything wrongly routed arrive
	if n := len(records(t, rec, "/orders")); n != 2 {
		t.Errorf("/orders got %d events, want exactly the 2 orders", n)
	}

	// A Broker's status codes for what is not an event.
	code, body := postToIngress(t, ns, "default", []byte("not an event"), map[string]string{"Content-Type": "text/plain"})
	if code != http.StatusBadRequest {
		t.Errorf("a request that is no event got %d %q, want 400", code, body)
	}
	code, _ = postToIngress(t, ns, "no-such-broker", eventBody(t, newEvent("x", "t", "{}")), map[string]string{"Content-Type": "application/cloudevents+json"})
	if code != http.StatusNotFound {
		t.Errorf("an event for a Broker that does not exist got %d, want 404", code)
	}

	// Only the eventing components, with NATS's password, may connect to
	// NATS: anyone else could publish around the ingress.
	natsPod := onePod(t, "flywheel-system", "app.kubernetes.io/name=flywheel-nats")
	if nc, err := nats.Connect(fmt.Sprintf("nats://%s:4222", natsPod.Status.PodIP), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("a client without credentials connected to NATS")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connecting to NATS without credentials: %v, want an authorization violation", err)
	}
}

// TestTriggerWakesSubscriberFromZero sends an event to a Trigger whose
// subscriber has scaled to zero: the activator holds it while a pod
// starts, and the event arrives.
func TestTriggerWakesSubscriberFromZero(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "coldevent")
	rec := createRecorder(t, client, ns, "sleepy", map[string]string{serving.WindowAnnotation.String(): "6s"})
	createBroker(t, client, ns, "default", nil)
	tr := trigger(ns, "wake", "default", nil, duckv1.Destination{
		Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "sleepy"},
	}, nil)
	if _, err := client.EventingV1().Triggers(ns).Create(t.Context(), tr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTriggerReady(t, client, ns, "wake")
	waitNoPods(t, ns, rec.Status.LatestReadyRevisionName)

	sendEvent(t, ns, "default", newEvent("wake-up", "com.example.wake", "{}"), false)
	got := waitRecords(t, rec, "/", func(rs []record) bool { return len(rs) >= 1 })
	if got[0].ID != "wake-up" {
		t.Errorf("the subscriber woke to %+v, want event wake-up", got[0])
	}
}

// createRecorder creates a recorder Service and waits for it.
func createRecorder(t testing.TB, client versioned.Interface, ns, name string, annotations map[string]string) *servingv1.Service {
	t.Helper()
	svc, err := client.ServingV1().Services(ns).Create(t.Context(), &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec:       servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: recorderImage}}}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return waitReady(t, client, ns, name, svc.Generation)
}

// createBroker creates a Broker and waits until it is Ready.
func createBroker(t testing.TB, client versioned.Interface, ns, name string, delivery *eventingv1.DeliverySpec) *eventingv1.Broker {
	t.Helper()
	if _, err := client.EventingV1().Brokers(ns).Create(t.Context(), &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       eventingv1.BrokerSpec{Delivery: delivery},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var b *eventingv1.Broker
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		var err error
		b, err = client.EventingV1().Brokers(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && b.IsReady(), nil
	})
	if err != nil {
		t.Fatalf("Broker %s/%s not Ready: %+v\nlogs in %s", ns, name, b.Status.Conditions, workDir)
	}
	return b
}

func trigger(ns, name, broker string, attrs map[string]string, subscriber duckv1.Destination, delivery *eventingv1.DeliverySpec) *eventingv1.Trigger {
	tr := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       eventingv1.TriggerSpec{Broker: broker, Subscriber: subscriber, Delivery: delivery},
	}
	if attrs != nil {
		tr.Spec.Filter = &eventingv1.TriggerFilter{Attributes: attrs}
	}
	return tr
}

// waitTriggerReady waits until the Trigger is Ready.
func waitTriggerReady(t testing.TB, client versioned.Interface, ns, name string) *eventingv1.Trigger {
	t.Helper()
	var tr *eventingv1.Trigger
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		var err error
		tr, err = client.EventingV1().Triggers(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && tr.IsReady(), nil
	})
	if err != nil {
		t.Fatalf("Trigger %s/%s not Ready: %+v\nlogs in %s", ns, name, tr.Status.Conditions, workDir)
	}
	return tr
}

func newEvent(id, typ, data string) *cloudevents.Event {
	ev := cloudevents.New()
	ev.SetID(id)
	ev.SetSource("/e2e")
	ev.SetType(typ)
	if err := ev.SetData("application/json", []byte(data)); err != nil {
		panic(err)
	}
	return &ev
}

func eventBody(t testing.TB, ev *cloudevents.Event) []byte {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendEvent posts ev to the Broker, in binary or structured mode, and
// fails the test unless it is answered 202.
func sendEvent(t testing.TB, ns, broker string, ev *cloudevents.Event, structured bool) {
	t.Helper()
	code, body, err := postEvent(t.Context(), ns, broker, ev, structured)
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("posting event %s to Broker %s/%s: %d %q %v", ev.ID(), ns, broker, code, body, err)
	}
}

// postEvent posts ev to the Broker through the API server's proxy to the
// ingress Service, as `fw event send` does.
func postEvent(ctx context.Context, ns, broker string, ev *cloudevents.Event, structured bool) (int, string, error) {
	headers := map[string]string{}
	var body []byte
	if structured {
		b, err := json.Marshal(ev)
		if err != nil {
			return 0, "", err
		}
		body = b
		headers["Content-Type"] = "application/cloudevents+json"
	} else {
		body = ev.Data()
		headers["Content-Type"] = ev.DataContentType()
		headers["Ce-Specversion"] = ev.SpecVersion()
		headers["Ce-Id"] = ev.ID()
		headers["Ce-Source"] = ev.Source()
		headers["Ce-Type"] = ev.Type()
		for k, v := range ev.Extensions() {
			headers["Ce-"+k] = fmt.Sprint(v)
		}
	}
	return proxyPost(ctx, ns, broker, body, headers)
}

func postToIngress(t testing.TB, ns, broker string, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	code, b, err := proxyPost(t.Context(), ns, broker, body, headers)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

func proxyPost(ctx context.Context, ns, broker string, body []byte, headers map[string]string) (int, string, error) {
	cfg := cluster.ControlPlane.RESTConfig()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return 0, "", err
	}
	url := fmt.Sprintf("%s/api/v1/namespaces/flywheel-system/services/http:%s:http/proxy/%s/%s", cfg.Host, eventing.IngressServiceName, ns, broker)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// records lists what the recorder Service got at path ("" for all).
func records(t testing.TB, svc *servingv1.Service, path string) []record {
	t.Helper()
	rs, err := fetchRecords(t.Context(), svc, path)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func fetchRecords(ctx context.Context, svc *servingv1.Service, path string) ([]record, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cluster.GatewayAddr+"/events?path="+path, nil)
	if err != nil {
		return nil, err
	}
	req.Host = svc.Status.URL.Host
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, fmt.Errorf("the recorder answered %s %s", resp.Status, b)
	}
	// Thousands of records, in the fault test: more than request reads.
	var rs []record
	return rs, json.NewDecoder(resp.Body).Decode(&rs)
}

// waitRecords waits until what the recorder got at path satisfies done.
func waitRecords(t testing.TB, svc *servingv1.Service, path string, done func([]record) bool) []record {
	t.Helper()
	var rs []record
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		rs, last = fetchRecords(ctx, svc, path)
		return last == nil && done(rs), nil
	})
	if err != nil {
		t.Fatalf("waiting for events at %s: got %d %+v (last error %v)\nlogs in %s", path, len(rs), rs, last, workDir)
	}
	return rs
}

// TestEventingCLI drives a Broker through fw as a user would: create a
// Broker and a Trigger to a Knative Service, send an event with fw event
// send, see it arrive, describe and delete them.
func TestEventingCLI(t *testing.T) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "evcli")
	rec := createRecorder(t, client, ns, "recorder", map[string]string{serving.MinScaleAnnotation.String(): "1"})

	out := fw(t, "broker", "create", "shop", "-n", ns)
	if want := "http://broker-ingress.flywheel-system.svc.cluster.local/" + ns + "/shop"; !strings.Contains(out, want) {
		t.Errorf("fw broker create printed %q, want the address %s", out, want)
	}
	fw(t, "trigger", "create", "orders", "-n", ns, "--broker", "shop", "--sink", "ksvc:recorder", "--filter", "type=com.example.cli")
	waitTriggerReady(t, client, ns, "orders")
	if out := fw(t, "trigger", "list", "-n", ns); !strings.Contains(out, "orders") || !strings.Contains(out, "shop") {
		t.Errorf("fw trigger list printed:\n%s", out)
	}
	var described eventingv1.Trigger
	if err := json.Unmarshal([]byte(fw(t, "trigger", "describe", "orders", "-n", ns, "-o", "json")), &described); err != nil {
		t.Fatal(err)
	}
	if got := described.Spec.Filter.Attributes["type"]; got != "com.example.cli" {
		t.Errorf("the Trigger's filter is %v", described.Spec.Filter)
	}

	out = fw(t, "event", "send", "-n", ns, "--broker", "shop", "--type", "com.example.cli", "--id", "cli-1", "--data-json", `{"hello":"cli"}`)
	if !strings.Contains(out, "202") {
		t.Errorf("fw event send printed %q, want the 202", out)
	}
	got := waitRecords(t, rec, "/", func(rs []record) bool { return len(rs) >= 1 })
	if got[0].ID != "cli-1" || got[0].Data != `{"hello":"cli"}` {
		t.Errorf("the subscriber got %+v", got[0])
	}
	fw(t, "trigger", "delete", "orders", "-n", ns)
	fw(t, "broker", "delete", "shop", "-n", ns)
}

// fw runs `fw args...` in this process against the cluster's kubeconfig
// and returns what it printed, failing the test if it failed.
func fw(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root := commands.NewRootCommand(commands.NewParams())
	root.SetArgs(append(args, "--kubeconfig", cluster.ControlPlane.KubeconfigPath))
	root.SetOut(&out)
	root.SetErr(&out)
	// Nothing to read: the test process's own input is not the command's.
	root.SetIn(strings.NewReader(""))
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("fw %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
