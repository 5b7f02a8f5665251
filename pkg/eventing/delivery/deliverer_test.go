package delivery

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// reply is one scripted answer of a sink.
type reply struct {
	status int
	header map[string]string
	body   string
}

// request is what a sink saw.
type request struct {
	method string
	header http.Header
	body   string
}

// sink is an HTTP server that answers from a script, the last answer
// repeating, and records every request.
type sink struct {
	url    *url.URL
	script []reply

	mu  sync.Mutex
	got []request
}

func newSink(t *testing.T, script ...reply) *sink {
	t.Helper()
	s := &sink{script: script}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = mustURL(t, srv.URL+"/events")
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.got)
	s.got = append(s.got, request{method: r.Method, header: r.Header.Clone(), body: string(body)})
	s.mu.Unlock()
	answer := reply{status: http.StatusAccepted}
	if len(s.script) > 0 {
		answer = s.script[min(n, len(s.script)-1)]
	}
	for k, v := range answer.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(answer.status)
	_, _ = io.WriteString(w, answer.body)
}

func (s *sink) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stepClock is a fake clock on which every timer fires as soon as it is
// made, unless the clock is frozen, recording the waits asked for.
type stepClock struct {
	*testingclock.FakeClock
	frozen bool

	mu    sync.Mutex
	waits []time.Duration
}

func newStepClock() *stepClock {
	return &stepClock{FakeClock: testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
}

func (c *stepClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	if !c.frozen {
		c.Step(d)
	}
	return t
}

func (c *stepClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// newDeliverer is the Deliverer the dispatcher runs: the lean client for
// http:// subscribers.
func newDeliverer(t *testing.T, clk clock.Clock) *Deliverer {
	t.Helper()
	d := New(nil, clk)
	t.Cleanup(d.CloseIdleConnections)
	return d
}

func testEvent(t *testing.T) *event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID("evt-1")
	ev.SetSource("/flywheel/test")
	ev.SetType("dev.flywheel.test")
	ev.SetSubject("order 42 €")
	ev.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC))
	ev.SetDataSchema("https://example.com/schema")
	ev.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ev.SetExtension("priority", int32(42))
	ev.SetExtension("urgent", true)
	if err := ev.SetData("application/json", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// summary is the part of an Outcome a test compares, errors reduced to
// whether there was one.
type summary struct {
	Result               Result
	Attempts             int
	StatusCode           int
	Err                  bool
	DeadLetterAttempts   int
	DeadLetterStatusCode int
	DeadLetterErr        bool
	Reply                bool
	ReplyErr             bool
}

func summarize(o Outcome) summary {
	return summary{
		Result:               o.Result,
		Attempts:             o.Attempts,
		StatusCode:           o.StatusCode,
		Err:                  o.Err != nil,
		DeadLetterAttempts:   o.DeadLetterAttempts,
		DeadLetterStatusCode: o.DeadLetterStatusCode,
		DeadLetterErr:        o.DeadLetterErr != nil,
		Reply:                o.Reply != nil,
		ReplyErr:             o.ReplyErr != nil,
	}
}

func exponential(retry int, delay time.Duration) Params {
	return Params{Retry: retry, BackoffPolicy: eventingv1.BackoffPolicyExponential, BackoffDelay: delay, Timeout: 5 * time.Second}
}

func TestDeliverBinaryMode(t *testing.T) {
	sub := newSink(t)
	out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), sub.url, nil, Params{}, Hooks{})
	if out.Result != Delivered {
		t.Fatalf("Result = %v (%v), want Delivered", out.Result, out.Err)
	}
	got := sub.requests()
	if len(got) != 1 {
		t.Fatalf("the subscriber saw %d requests, want 1", len(got))
	}
	req := got[0]
	if req.method != http.MethodPost {
		t.Errorf("method = %s, want POST", req.method)
	}
	want := map[string]string{
		"Ce-Specversion": "1.0",
		"Ce-Id":          "evt-1",
		"Ce-Source":      "/flywheel/test",
		"Ce-Type":        "dev.flywheel.test",
		"Ce-Subject":     "order%2042%20%E2%82%AC",
		"Ce-Time":        "2026-01-02T03:04:05.5Z",
		"Ce-Dataschema":  "https://example.com/schema",
		// The Distributed Tracing extension travels as the W3C header.
		"Traceparent":        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Ce-Traceparent":     "",
		"Ce-Priority":        "42",
		"Ce-Urgent":          "true",
		"Content-Type":       "application/json",
		"Ce-Datacontenttype": "",
		"Prefer":             "reply",
	}
	gotHeaders := map[string]string{}
	for k := range want {
		gotHeaders[k] = req.header.Get(k)
	}
	if diff := cmp.Diff(want, gotHeaders); diff != "" {
		t.Errorf("headers (-want, +got):\n%s", diff)
	}
	if req.body != `{"n":1}` {
		t.Errorf("body = %q, want the event's data", req.body)
	}
}

func TestDeliverRetriesUntilAccepted(t *testing.T) {
	sub := newSink(t, reply{status: 503}, reply{status: 500}, reply{status: 202})
	clk := newStepClock()
	var retries []Retry
	hooks := Hooks{BeforeRetry: func(r Retry) {
		r.Err = nil
		retries = append(retries, r)
	}}

	out := newDeliverer(t, clk).Deliver(context.Background(), testEvent(t), sub.url, nil, exponential(5, 100*time.Millisecond), hooks)

	if diff := cmp.Diff(summary{Result: Delivered, Attempts: 3, StatusCode: 202}, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	wantRetries := []Retry{
		{Target: TargetSubscriber, Number: 1, Delay: 200 * time.Millisecond, StatusCode: 503},
		{Target: TargetSubscriber, Number: 2, Delay: 400 * time.Millisecond, StatusCode: 500},
	}
	if diff := cmp.Diff(wantRetries, retries); diff != "" {
		t.Errorf("BeforeRetry calls (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, clk.recorded()); diff != "" {
		t.Errorf("waits on the clock (-want, +got):\n%s", diff)
	}
	if n := len(sub.requests()); n != 3 {
		t.Errorf("the subscriber saw %d requests, want 3", n)
	}
}

func TestDeliverStatusCodes(t *testing.T) {
	tests := []struct {
		status       int
		header       map[string]string
		wantResult   Result
		wantAttempts int
	}{
		{status: 200, wantResult: Delivered, wantAttempts: 1},
		{status: 201, wantResult: Delivered, wantAttempts: 1},
		{status: 202, wantResult: Delivered, wantAttempts: 1},
		{status: 204, wantResult: Delivered, wantAttempts: 1},
		{status: 302, header: map[string]string{"Location": "/elsewhere"}, wantResult: Dropped, wantAttempts: 1},
		{status: 400, wantResult: Dropped, wantAttempts: 1},
		{status: 401, wantResult: Dropped, wantAttempts: 1},
		{status: 403, wantResult: Dropped, wantAttempts: 1},
		{status: 404, wantResult: Dropped, wantAttempts: 3},
		{status: 409, wantResult: Dropped, wantAttempts: 3},
		{status: 413, wantResult: Dropped, wantAttempts: 1},
		{status: 429, wantResult: Dropped, wantAttempts: 3},
		{status: 500, wantResult: Dropped, wantAttempts: 3},
		{status: 502, wantResult: Dropped, wantAttempts: 3},
		{status: 503, wantResult: Dropped, wantAttempts: 3},
		{status: 600, wantResult: Dropped, wantAttempts: 3},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			sub := newSink(t, reply{status: tc.status, header: tc.header})
			out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), sub.url, nil, exponential(2, time.Second), Hooks{})
			if out.Result != tc.wantResult || out.Attempts != tc.wantAttempts || out.StatusCode != tc.status {
				t.Errorf("Deliver() = %v after %d attempts, last status %d; want %v after %d, last status %d",
					out.Result, out.Attempts, out.StatusCode, tc.wantResult, tc.wantAttempts, tc.status)
			}
			if n := len(sub.requests()); n != tc.wantAttempts {
				t.Errorf("the subscriber saw %d requests, want %d (a redirect is not followed)", n, tc.wantAttempts)
			}
		})
	}
}

// deadLetterExtensions reads the three extensions off a request to a
// dead-letter sink, knativeerrordata decoded from base64.
func deadLetterExtensions(t *testing.T, r request) map[string]string {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(r.header.Get("Ce-Knativeerrordata"))
	if err != nil {
		t.Fatalf("knativeerrordata %q is not base64: %v", r.header.Get("Ce-Knativeerrordata"), err)
	}
	return map[string]string{
		ExtensionErrorDest: r.header.Get("Ce-Knativeerrordest"),
		ExtensionErrorCode: r.header.Get("Ce-Knativeerrorcode"),
		ExtensionErrorData: string(data),
	}
}

func TestDeliverNotRetryableGoesToDeadLetterAtOnce(t *testing.T) {
	sub := newSink(t, reply{status: 400, body: "no such field: total"})
	dls := newSink(t)
	clk := newStepClock()

	out := newDeliverer(t, clk).Deliver(context.Background(), testEvent(t), sub.url, dls.url, exponential(5, time.Second), Hooks{})

	want := summary{Result: DeadLettered, Attempts: 1, StatusCode: 400, Err: true, DeadLetterAttempts: 1, DeadLetterStatusCode: 202}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	if waits := clk.recorded(); len(waits) != 0 {
		t.Errorf("waited %v, want no backoff for a 400", waits)
	}
	got := dls.requests()
	if len(got) != 1 {
		t.Fatalf("the dead-letter sink saw %d requests, want 1", len(got))
	}
	wantExt := map[string]string{
		ExtensionErrorDest: sub.url.String(),
		ExtensionErrorCode: "400",
		ExtensionErrorData: "no such field: total",
	}
	if diff := cmp.Diff(wantExt, deadLetterExtensions(t, got[0])); diff != "" {
		t.Errorf("dead-letter extensions (-want, +got):\n%s", diff)
	}
	if p := got[0].header.Get("Prefer"); p != "" {
		t.Errorf("the dead-letter sink was sent Prefer: %q, want none: its reply is not routed", p)
	}
}

func TestDeliverDeadLettersAfterTheLastRetry(t *testing.T) {
	sub := newSink(t, reply{status: 500, body: "boom"})
	dls := newSink(t)
	clk := newStepClock()
	ev := testEvent(t)
	p := Params{Retry: 2, BackoffPolicy: eventingv1.BackoffPolicyLinear, BackoffDelay: time.Second, Timeout: 5 * time.Second}

	out := newDeliverer(t, clk).Deliver(context.Background(), ev, sub.url, dls.url, p, Hooks{})

	want := summary{Result: DeadLettered, Attempts: 3, StatusCode: 500, Err: true, DeadLetterAttempts: 1, DeadLetterStatusCode: 202}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, clk.recorded()); diff != "" {
		t.Errorf("waits (-want, +got):\n%s", diff)
	}
	got := dls.requests()
	if len(got) != 1 {
		t.Fatalf("the dead-letter sink saw %d requests, want 1", len(got))
	}
	wantExt := map[string]string{
		ExtensionErrorDest: sub.url.String(),
		ExtensionErrorCode: "500",
		ExtensionErrorData: "boom",
	}
	if diff := cmp.Diff(wantExt, deadLetterExtensions(t, got[0])); diff != "" {
		t.Errorf("dead-letter extensions (-want, +got):\n%s", diff)
	}
	// The event itself goes on unchanged, in binary mode.
	if id, typ, body := got[0].header.Get("Ce-Id"), got[0].header.Get("Ce-Type"), got[0].body; id != "evt-1" || typ != "dev.flywheel.test" || body != `{"n":1}` {
		t.Errorf("dead-lettered event has id %q, type %q, body %q; want the original's", id, typ, body)
	}
	if _, ok := ev.Extensions()[ExtensionErrorDest]; ok {
		t.Error("Deliver added the dead-letter extensions to the caller's event")
	}
}

func TestDeadLetterDataIsBounded(t *testing.T) {
	sub := newSink(t, reply{status: 500, body: strings.Repeat("x", 10*ErrorDataLimit)})
	dls := newSink(t)

	out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), sub.url, dls.url, Params{}, Hooks{})
	if out.Result != DeadLettered {
		t.Fatalf("Result = %v, want DeadLettered", out.Result)
	}
	got := dls.requests()
	if len(got) != 1 {
		t.Fatalf("the dead-letter sink saw %d requests, want 1", len(got))
	}
	if data := deadLetterExtensions(t, got[0])[ExtensionErrorData]; data != strings.Repeat("x", ErrorDataLimit) {
		t.Errorf("knativeerrordata holds %d bytes, want the first %d of the body", len(data), ErrorDataLimit)
	}
}

func TestDeliverWithoutResponseDeadLettersTheError(t *testing.T) {
	// A server that is gone: every attempt fails to connect.
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := mustURL(t, gone.URL+"/events")
	gone.Close()
	dls := newSink(t)
	clk := newStepClock()

	out := newDeliverer(t, clk).Deliver(context.Background(), testEvent(t), goneURL, dls.url, exponential(1, time.Second), Hooks{})

	want := summary{Result: DeadLettered, Attempts: 2, Err: true, DeadLetterAttempts: 1, DeadLetterStatusCode: 202}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	got := dls.requests()
	if len(got) != 1 {
		t.Fatalf("the dead-letter sink saw %d requests, want 1", len(got))
	}
	if code, ok := got[0].header["Ce-Knativeerrorcode"]; ok {
		t.Errorf("knativeerrorcode = %q, want none: no response came back", code)
	}
	ext := deadLetterExtensions(t, got[0])
	if ext[ExtensionErrorDest] != goneURL.String() || !strings.Contains(ext[ExtensionErrorData], goneURL.Host) {
		t.Errorf("dead-letter extensions = %v, want the URL and the connection error", ext)
	}
}

func TestDeliverDropsWithoutDeadLetterSink(t *testing.T) {
	sub := newSink(t, reply{status: 503})
	out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), sub.url, nil, exponential(1, time.Second), Hooks{})
	want := summary{Result: Dropped, Attempts: 2, StatusCode: 503, Err: true}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
}

func TestDeliverUnsentWhenDeadLetterSinkFails(t *testing.T) {
	sub := newSink(t, reply{status: 500})
	dls := newSink(t, reply{status: 503})
	var targets []Target
	hooks := Hooks{BeforeRetry: func(r Retry) { targets = append(targets, r.Target) }}

	out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), sub.url, dls.url, exponential(1, time.Second), hooks)

	want := summary{Result: Unsent, Attempts: 2, StatusCode: 500, Err: true, DeadLetterAttempts: 2, DeadLetterStatusCode: 503, DeadLetterErr: true}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Target{TargetSubscriber, TargetDeadLetter}, targets); diff != "" {
		t.Errorf("BeforeRetry targets (-want, +got):\n%s", diff)
	}
}

func TestDeliverReply(t *testing.T) {
	structured := `{"specversion":"1.0","id":"r-2","source":"/reply","type":"dev.flywheel.reply","datacontenttype":"application/json","data":{"ok":true}}`
	binaryReply := map[string]string{
		"Ce-Specversion": "1.0",
		"Ce-Id":          "r-1",
		"Ce-Source":      "/reply",
		"Ce-Type":        "dev.flywheel.reply",
		"Ce-Subject":     "order%2042%20%E2%82%AC",
		"Ce-Hop":         "two",
		"Content-Type":   "text/plain",
	}
	wantBinary := event.New()
	wantBinary.SetID("r-1")
	wantBinary.SetSource("/reply")
	wantBinary.SetType("dev.flywheel.reply")
	wantBinary.SetSubject("order 42 €")
	wantBinary.SetExtension("hop", "two")
	_ = wantBinary.SetData("text/plain", "hello")
	wantStructured := event.New()
	wantStructured.SetID("r-2")
	wantStructured.SetSource("/reply")
	wantStructured.SetType("dev.flywheel.reply")
	_ = wantStructured.SetData("application/json", map[string]bool{"ok": true})

	tests := []struct {
		name         string
		answer       reply
		want         *event.Event
		wantReplyErr bool
	}{{
		name:   "binary mode",
		answer: reply{status: 200, header: binaryReply, body: "hello"},
		want:   &wantBinary,
	}, {
		name:   "structured mode",
		answer: reply{status: 200, header: map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}, body: structured},
		want:   &wantStructured,
	}, {
		name:   "a 202 is never a reply",
		answer: reply{status: 202, header: binaryReply, body: "hello"},
	}, {
		name:   "an empty 200 is no reply",
		answer: reply{status: 200},
	}, {
		name:   "a 200 with a plain payload is no reply",
		answer: reply{status: 200, header: map[string]string{"Content-Type": "text/plain"}, body: "ok"},
	}, {
		name:         "a binary reply without an id is malformed",
		answer:       reply{status: 200, header: map[string]string{"Ce-Specversion": "1.0", "Ce-Source": "/reply", "Ce-Type": "t"}},
		wantReplyErr: true,
	}, {
		name:         "a structured reply that is not JSON is malformed",
		answer:       reply{status: 200, header: map[string]string{"Content-Type": "application/cloudevents+json"}, body: "{"},
		wantReplyErr: true,
	}, {
		name:         "a batch is not a reply",
		answer:       reply{status: 200, header: map[string]string{"Content-Type": "application/cloudevents-batch+json"}, body: "[" + structured + "]"},
		wantReplyErr: true,
	}, {
		name:         "a reply past the limit",
		answer:       reply{status: 200, header: map[string]string{"Content-Type": "application/cloudevents+json"}, body: strings.Repeat(" ", ReplyLimit+1)},
		wantReplyErr: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := newSink(t, tc.answer)
			out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), sub.url, nil, Params{}, Hooks{})
			if out.Result != Delivered {
				t.Fatalf("Result = %v (%v), want Delivered whatever the reply", out.Result, out.Err)
			}
			if (out.ReplyErr != nil) != tc.wantReplyErr {
				t.Errorf("ReplyErr = %v, want an error: %t", out.ReplyErr, tc.wantReplyErr)
			}
			if diff := cmp.Diff(eventJSON(t, tc.want), eventJSON(t, out.Reply)); diff != "" {
				t.Errorf("Reply (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestDeliverTimesOutEachAttempt(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	// The subscriber never answers; it lets go when the request is given
	// up (the server notices once it has read the body) or the test ends.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	p := Params{Retry: 1, BackoffDelay: time.Second, Timeout: 50 * time.Millisecond}

	out := newDeliverer(t, newStepClock()).Deliver(context.Background(), testEvent(t), mustURL(t, srv.URL), nil, p, Hooks{})

	want := summary{Result: Dropped, Attempts: 2, Err: true}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	if !errors.Is(out.Err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want the attempt's deadline", out.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("the subscriber saw %d requests, want 2", calls)
	}
}

func TestDeliverContextEndsDuringBackoff(t *testing.T) {
	sub := newSink(t, reply{status: 503})
	dls := newSink(t)
	clk := newStepClock()
	clk.frozen = true // the backoff never ends by itself
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hooks := Hooks{BeforeRetry: func(Retry) { cancel() }}

	out := newDeliverer(t, clk).Deliver(ctx, testEvent(t), sub.url, dls.url, exponential(3, time.Second), hooks)

	want := summary{Result: Unsent, Attempts: 1, StatusCode: 503, Err: true}
	if diff := cmp.Diff(want, summarize(out)); diff != "" {
		t.Errorf("outcome (-want, +got):\n%s", diff)
	}
	if !errors.Is(out.Err, context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", out.Err)
	}
	if n := len(dls.requests()); n != 0 {
		t.Errorf("the dead-letter sink saw %d requests, want none once the context ended", n)
	}
}

func TestDeliverRefusesWhatCannotBeSent(t *testing.T) {
	sub := newSink(t)
	d := newDeliverer(t, newStepClock())

	invalid := event.New()
	invalid.SetType("dev.flywheel.test") // no id, no source
	if out := d.Deliver(context.Background(), &invalid, sub.url, sub.url, Params{}, Hooks{}); out.Result != Dropped || out.Err == nil {
		t.Errorf("an invalid event: Result = %v, Err = %v; want Dropped with an error", out.Result, out.Err)
	}
	if out := d.Deliver(context.Background(), testEvent(t), nil, sub.url, Params{}, Hooks{}); out.Result != Unsent || out.Err == nil {
		t.Errorf("no subscriber URL: Result = %v, Err = %v; want Unsent with an error", out.Result, out.Err)
	}
	if n := len(sub.requests()); n != 0 {
		t.Errorf("%d requests were sent, want none", n)
	}
}

func TestDeliverReusesConnections(t *testing.T) {
	// Failures with bodies and replies alike leave the connection ready
	// for the next event.
	answers := []reply{
		{status: 500, body: strings.Repeat("e", 8*ErrorDataLimit)},
		{status: 200, header: map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "r", "Ce-Source": "/r", "Ce-Type": "t"}, body: "data"},
		{status: 200, body: "plain"},
		{status: 400, body: "bad"},
		{status: 202},
	}
	var mu sync.Mutex
	conns, n := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		a := answers[n%len(answers)]
		n++
		mu.Unlock()
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	d := newDeliverer(t, newStepClock())

	for range 3 * len(answers) {
		d.Deliver(context.Background(), testEvent(t), mustURL(t, srv.URL), nil, Params{}, Hooks{})
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("%d deliveries opened %d connections, want 1", n, conns)
	}
}

func TestResultString(t *testing.T) {
	got := []string{Unsent.String(), Delivered.String(), DeadLettered.String(), Dropped.String(), Result(9).String()}
	want := []string{"Unsent", "Delivered", "DeadLettered", "Dropped", "Result(9)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Result.String() (-want, +got):\n%s", diff)
	}
}
