package event

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	eventingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/eventing/v1"
	"flywheel.dev/pkg/commands/commandstest"
	"flywheel.dev/pkg/commands/params"
)

const ns = commandstest.Namespace

// proxyURL is where the commands post an event for the Broker default:
// the API server of commandstest's kubeconfig, proxying to the ingress.
const proxyURL = "https://127.0.0.1:6443/api/v1/namespaces/flywheel-system/services/http:broker-ingress:80/proxy/demo/default"

// receiver answers every request with status and body, and keeps what it
// received.
type receiver struct {
	status int
	body   string

	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
}

func (r *receiver) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.requests = append(r.requests, req)
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	return &http.Response{
		StatusCode: r.status,
		Status:     http.StatusText(r.status),
		Header:     http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:       io.NopCloser(strings.NewReader(r.body)),
		Request:    req,
	}, nil
}

// only returns the one request received.
func (r *receiver) only(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.requests) != 1 {
		t.Fatalf("received %d requests, want 1", len(r.requests))
	}
	return r.requests[0], r.bodies[0]
}

// broker is the Broker name as the platform reports it once ready.
func broker(name string) *eventingv1.Broker {
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	b.Status.SetAddress(&apis.URL{Scheme: "http", Host: "broker-ingress.flywheel-system.svc.cluster.local", Path: "/" + ns + "/" + name})
	return b
}

// newParams returns parameters whose Eventing API holds objs and whose
// HTTP requests go to rt.
func newParams(t *testing.T, rt http.RoundTripper, objs ...runtime.Object) *params.Params {
	t.Helper()
	p, client := commandstest.NewParams(t, objs...)
	p.NewEventingClient = func() (eventingv1client.EventingV1Interface, error) { return client.EventingV1(), nil }
	p.HTTPTransport = rt
	return p
}

// decode reads the request back as a CloudEvent, and checks that it came
// in binary mode.
func decode(t *testing.T, req *http.Request, body []byte) *event.Event {
	t.Helper()
	req = req.Clone(t.Context())
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	msg := cehttp.NewMessageFromHttpRequest(req)
	if enc := msg.ReadEncoding(); enc != binding.EncodingBinary {
		t.Errorf("the event came in encoding %v, want binary", enc)
	}
	ev, err := binding.ToEvent(t.Context(), msg)
	if err != nil {
		t.Fatalf("the request is not a CloudEvent: %v", err)
	}
	return ev
}

func TestSendToABrokerGoesThroughTheAPIServersProxy(t *testing.T) {
	rt := &receiver{status: http.StatusAccepted}
	p := newParams(t, rt, broker("default"))
	out, err := commandstest.Run(t, NewEventCommand(p), "send", "--broker", "default", "--type", "com.example.ping", "--data", "hello")
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	req, body := rt.only(t)
	if req.Method != http.MethodPost || req.URL.String() != proxyURL {
		t.Errorf("request = %s %s, want POST %s", req.Method, req.URL, proxyURL)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer test" {
		t.Errorf("Authorization = %q, want the kubeconfig's token", got)
	}
	// Binary mode, spelled out: attributes as ce- headers, data as the body.
	id := req.Header.Get("ce-id")
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("ce-id = %q, want a UUID: %v", id, err)
	}
	for header, want := range map[string]string{
		"ce-specversion": "1.0",
		"ce-type":        "com.example.ping",
		"ce-source":      "fw",
		"ce-time":        commandstest.Now.Format(time.RFC3339),
		"Content-Type":   "text/plain",
	} {
		if got := req.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if string(body) != "hello" {
		t.Errorf("body = %q, want the data, hello", body)
	}
	ev := decode(t, req, body)
	if ev.ID() != id || ev.Subject() != "" || len(ev.Extensions()) != 0 {
		t.Errorf("decoded event %v, want no subject or extensions", ev)
	}

	want := "Sent event " + id + " to Broker default in namespace demo.\n202 Accepted\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func TestSendEachEventAnID(t *testing.T) {
	rt := &receiver{status: http.StatusAccepted}
	p := newParams(t, rt, broker("default"))
	for range 2 {
		if _, err := commandstest.Run(t, NewEventCommand(p), "send", "--broker", "default", "--type", "t"); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := rt.requests[0].Header.Get("ce-id"), rt.requests[1].Header.Get("ce-id"); a == b {
		t.Errorf("two events have the same id, %s", a)
	}
	if _, body := rt.requests[0], rt.bodies[0]; len(body) != 0 || rt.requests[0].Header.Get("Content-Type") != "" {
		t.Errorf("an event without data came with a body %q or a content type", body)
	}
}

// TestSendToAURL posts over a real connection, with every attribute
// given.
func TestSendToAURL(t *testing.T) {
	type received struct {
		req  *http.Request
		body []byte
	}
	arrived := make(chan received, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		arrived <- received{r, body}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "stored\n")
	}))
	defer server.Close()
	p := newParams(t, nil)
	out, err := commandstest.Run(t, NewEventCommand(p), "send", "--to", server.URL+"/demo/default",
		"--type", "com.example.order.placed", "--source", "/shop", "--id", "order-42", "--subject", "42",
		"--extension", "region=eu", "--extension", "tenant=acme", "--data-json", `{"order": 42}`)
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	var r received
	select {
	case r = <-arrived:
	default:
		t.Fatal("the server received nothing")
	}
	got := decode(t, r.req, r.body)
	contentType := r.req.Header.Get("Content-Type")
	want := event.New()
	want.SetID("order-42")
	want.SetType("com.example.order.placed")
	want.SetSource("/shop")
	want.SetSubject("42")
	want.SetTime(commandstest.Now)
	want.SetExtension("region", "eu")
	want.SetExtension("tenant", "acme")
	if err := want.SetData("application/json", json.RawMessage(`{"order": 42}`)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("received event (-want, +got):\n%s", diff)
	}
	if contentType != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", contentType)
	}
	wantOut := "Sent event order-42 to " + server.URL + "/demo/default.\n202 Accepted\nstored\n"
	if diff := cmp.Diff(wantOut, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func TestSendDataFromAFileOrStandardInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(file, []byte(`{"ok": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		args            []string
		stdin           string
		wantBody        string
		wantContentType string
	}{
		{"file", []string{"--data-file", file}, "", `{"ok": true}`, "application/json"},
		{"stdin", []string{"--data-file", "-"}, "hello\n", "hello\n", "application/octet-stream"},
		{"stdin, typed", []string{"--data-file", "-", "--content-type", "text/csv"}, "a,b\n", "a,b\n", "text/csv"},
		{"text, typed", []string{"--data", "<a/>", "--content-type", "application/xml"}, "", "<a/>", "application/xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &receiver{status: http.StatusAccepted}
			cmd := NewEventCommand(newParams(t, rt, broker("default")))
			cmd.SetIn(strings.NewReader(tc.stdin))
			if out, err := commandstest.Run(t, cmd, append([]string{"send", "--broker", "default", "--type", "t"}, tc.args...)...); err != nil {
				t.Fatalf("send: %v\n%s", err, out)
			}
			req, body := rt.only(t)
			if string(body) != tc.wantBody || req.Header.Get("Content-Type") != tc.wantContentType {
				t.Errorf("sent %q as %q, want %q as %q", body, req.Header.Get("Content-Type"), tc.wantBody, tc.wantContentType)
			}
		})
	}
}

func TestSendFailsWhenTheEventIsNotAccepted(t *testing.T) {
	rt := &receiver{status: http.StatusNotFound, body: "no Broker demo/default\n"}
	p := newParams(t, rt, broker("default"))
	out, err := commandstest.Run(t, NewEventCommand(p), "send", "--broker", "default", "--type", "t", "--id", "1")
	if err == nil || err.Error() != "Broker default in namespace demo did not accept the event: 404 Not Found" {
		t.Errorf("error = %v, want the status", err)
	}
	want := "Sent event 1 to Broker default in namespace demo.\n404 Not Found\nno Broker demo/default\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want, +got):\n%s", diff)
	}
}

func TestSendSaysWhatAForbiddenProxyNeeds(t *testing.T) {
	rt := &receiver{status: http.StatusForbidden, body: `{"kind":"Status","message":"services \"http:broker-ingress:80\" is forbidden"}`}
	p := newParams(t, rt, broker("default"))
	_, err := commandstest.Run(t, NewEventCommand(p), "send", "--broker", "default", "--type", "t")
	if err == nil || !strings.Contains(err.Error(), "needs to be allowed to create services/proxy") ||
		!strings.Contains(err.Error(), "--to http://broker-ingress.flywheel-system.svc.cluster.local/demo/default") {
		t.Errorf("error = %v, want it to name the permission and --to", err)
	}
}

func TestSendPrintsWhatItSentWithOutput(t *testing.T) {
	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			rt := &receiver{status: http.StatusAccepted}
			p := newParams(t, rt, broker("default"))
			out, err := commandstest.Run(t, NewEventCommand(p), "send", "--broker", "default", "--type", "com.example.ping",
				"--id", "1", "--data-json", `{"n": 1}`, "-o", format)
			if err != nil {
				t.Fatalf("send: %v\n%s", err, out)
			}
			var got map[string]any
			if err := yaml.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not %s: %v\n%s", format, err, out)
			}
			want := map[string]any{
				"url": proxyURL,
				"event": map[string]any{
					"specversion": "1.0", "id": "1", "source": "fw", "type": "com.example.ping",
					"time": commandstest.Now.Format(time.RFC3339), "datacontenttype": "application/json",
					"data": map[string]any{"n": float64(1)},
				},
				"answer": map[string]any{"status": float64(202)},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-o %s (-want, +got):\n%s", format, diff)
			}
		})
	}
}

func TestSendRefusesBadInputBeforeSendingAnything(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nowhere", []string{"--type", "t"}, "say where to send the event: --broker NAME for a Broker, e.g. --broker default, or --to URL"},
		{"two places", []string{"--broker", "default", "--to", "http://x", "--type", "t"}, "--broker and --to both say where to send the event"},
		{"no type", []string{"--broker", "default"}, "--type is required: the kind of event, e.g. --type com.example.order.placed"},
		{"empty source", []string{"--broker", "default", "--type", "t", "--source", ""}, "--source is empty"},
		{"two data", []string{"--broker", "default", "--type", "t", "--data", "a", "--data-json", "1"}, "--data and --data-json each give the data: give one of them"},
		{"bad JSON", []string{"--broker", "default", "--type", "t", "--data-json", "{order: 42}"}, `--data-json "{order: 42}" is not valid JSON`},
		{"missing file", []string{"--broker", "default", "--type", "t", "--data-file", "/nonexistent/x"}, "--data-file: open /nonexistent/x"},
		{"type without data", []string{"--broker", "default", "--type", "t", "--content-type", "text/csv"}, "--content-type is the type of the data: give the data too"},
		{"bad content type", []string{"--broker", "default", "--type", "t", "--data", "a", "--content-type", "csv;;"}, `--content-type "csv;;" is not a media type`},
		{"extension without =", []string{"--broker", "default", "--type", "t", "--extension", "region"}, `--extension "region": want NAME=VALUE`},
		{"extension upper case", []string{"--broker", "default", "--type", "t", "--extension", "Region=eu"}, `--extension "Region=eu": want NAME=VALUE, where NAME holds only lower-case letters and digits`},
		{"extension of an attribute", []string{"--broker", "default", "--type", "t", "--extension", "subject=x"}, `--extension "subject=x": bad key "subject": CloudEvents spec attribute MUST NOT be overwritten by extension; set the type, source, id and subject with their own flags`},
		{"URL without scheme", []string{"--to", "localhost:8080", "--type", "t"}, `--to "localhost:8080": want an http or https URL, e.g. --to http://localhost:8080/`},
		{"unknown output", []string{"--broker", "default", "--type", "t", "-o", "xml"}, `--output "xml"`},
		{"missing Broker", []string{"--broker", "nope", "--type", "t"}, "no Broker nope in namespace demo; see fw broker list -n demo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &receiver{status: http.StatusAccepted}
			p := newParams(t, rt, broker("default"))
			_, err := commandstest.Run(t, NewEventCommand(p), append([]string{"send"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to say %q", err, tc.want)
			}
			if len(rt.requests) > 0 {
				t.Errorf("the command sent %d requests before refusing", len(rt.requests))
			}
		})
	}
}

func TestSendToABrokerWithoutAnAddress(t *testing.T) {
	notYet := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	elsewhere := broker("elsewhere")
	elsewhere.Status.SetAddress(&apis.URL{Scheme: "https", Host: "events.example.com", Path: "/in"})
	for _, tc := range []struct {
		broker string
		want   string
	}{
		{"default", "Broker default in namespace demo has no address yet; see why with fw broker describe default -n demo"},
		{"elsewhere", "Broker elsewhere in namespace demo: its address https://events.example.com/in is not that of a Service in the cluster, " +
			"so the API server cannot proxy to it; post from where the address resolves, with --to https://events.example.com/in"},
	} {
		rt := &receiver{status: http.StatusAccepted}
		p := newParams(t, rt, notYet, elsewhere)
		_, err := commandstest.Run(t, NewEventCommand(p), "send", "--broker", tc.broker, "--type", "t")
		if err == nil || err.Error() != tc.want {
			t.Errorf("error = %v, want %q", err, tc.want)
		}
	}
}

func TestServiceProxyPath(t *testing.T) {
	for _, tc := range []struct{ address, want string }{
		{"http://broker-ingress.flywheel-system.svc.cluster.local/demo/default",
			"/api/v1/namespaces/flywheel-system/services/http:broker-ingress:80/proxy/demo/default"},
		{"https://ingress.system.svc:8443/a/b",
			"/api/v1/namespaces/system/services/https:ingress:8443/proxy/a/b"},
		{"https://ingress.system.svc.example.org",
			"/api/v1/namespaces/system/services/https:ingress:443/proxy"},
	} {
		u, err := apis.ParseURL(tc.address)
		if err != nil {
			t.Fatal(err)
		}
		got, err := serviceProxyPath(u)
		if err != nil || got != tc.want {
			t.Errorf("serviceProxyPath(%s) = %q, %v; want %q", tc.address, got, err, tc.want)
		}
	}
}
