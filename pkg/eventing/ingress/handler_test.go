package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/eventing"
)

var (
	defaultBroker = types.NamespacedName{Namespace: "shop", Name: "default"}
	brokerPath    = "/shop/default"
)

// published is one event the fake Publisher stored.
type published struct {
	broker types.NamespacedName
	ev     *event.Event
}

// fakePublisher stores events in memory. It fails every Publish with err
// when err is set; with blocked set, each Publish announces itself on
// blocked and then waits for its context to end, as a JetStream publish
// waiting for an acknowledgement that does not come.
type fakePublisher struct {
	err     error
	blocked chan struct{}

	mu     sync.Mutex
	events []published
}

func (p *fakePublisher) Publish(ctx context.Context, broker types.NamespacedName, ev *event.Event) error {
	if p.blocked != nil {
		p.blocked <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	if p.err != nil {
		return p.err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, published{broker: broker, ev: ev})
	return nil
}

func (p *fakePublisher) stored() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.events...)
}

// onlyBrokers says that exactly the given Brokers exist.
func onlyBrokers(known ...types.NamespacedName) Brokers {
	return BrokersFunc(func(b types.NamespacedName) bool {
		for _, k := range known {
			if b == k {
				return true
			}
		}
		return false
	})
}

// binaryHeader is a valid binary-mode event's headers, less those named in
// drop, plus extra.
func binaryHeader(drop []string, extra map[string]string) http.Header {
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", "order-1")
	h.Set("Ce-Source", "/shop/checkout")
	h.Set("Ce-Type", "shop.order.placed")
	h.Set("Content-Type", "application/json")
	for _, k := range drop {
		h.Del(k)
	}
	for k, v := range extra {
		h.Set(k, v)
	}
	return h
}

func structuredHeader() http.Header {
	return http.Header{"Content-Type": {"application/cloudevents+json; charset=utf-8"}}
}

const structuredEvent = `{"specversion":"1.0","id":"order-1","source":"/shop/checkout","type":"shop.order.placed","datacontenttype":"application/json","data":{"total":12}}`

// serve sends one request to h and returns the recorded response.
func serve(t *testing.T, h http.Handler, method, path string, header http.Header, body string) *answer {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if header != nil {
		r.Header = header.Clone()
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return &answer{StatusCode: w.Code, Header: w.Header(), Body: w.Body}
}

// answer is what the handler wrote: an http.Response's fields that the
// tests read, with nothing to close.
type answer struct {
	StatusCode int
	Header     http.Header
	Body       io.Reader
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatus holds each answer of the ingress to the request that earns
// it, and holds that only a 202 stored an event.
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header http.Header
		body   string
		pubErr error
		ready  func() error

		wantCode   int
		wantHeader map[string]string
		// wantBody are parts of the plain-text body, saying why.
		wantBody []string
	}{{
		name:     "binary event stored",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader(nil, nil),
		body:     `{"total":12}`,
		wantCode: http.StatusAccepted,
	}, {
		name:     "structured event stored",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   structuredHeader(),
		body:     structuredEvent,
		wantCode: http.StatusAccepted,
	}, {
		name:     "CloudEvents 0.3 binary event stored",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader(nil, map[string]string{"Ce-Specversion": "0.3"}),
		body:     `{}`,
		wantCode: http.StatusAccepted,
	}, {
		name:     "binary event without data stored",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader([]string{"Content-Type"}, nil),
		wantCode: http.StatusAccepted,
	}, {
		name:     "missing ce-id",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader([]string{"Ce-Id"}, nil),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"id (header Ce-Id)"},
	}, {
		name:     "missing ce-source",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader([]string{"Ce-Source"}, nil),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"source (header Ce-Source)"},
	}, {
		name:     "missing ce-type",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader([]string{"Ce-Type"}, nil),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"type (header Ce-Type)"},
	}, {
		name:     "missing ce-id, ce-source and ce-type, all named",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader([]string{"Ce-Id", "Ce-Source", "Ce-Type"}, nil),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"id (header Ce-Id)", "source (header Ce-Source)", "type (header Ce-Type)"},
	}, {
		name:     "missing ce-specversion",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader([]string{"Ce-Specversion"}, nil),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"Ce-Specversion", "application/cloudevents+json"},
	}, {
		name:     "unknown specversion",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader(nil, map[string]string{"Ce-Specversion": "2.0"}),
		wantCode: http.StatusBadRequest,
		wantBody: []string{`unknown specversion "2.0"`},
	}, {
		name:     "malformed ce-time",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader(nil, map[string]string{"Ce-Time": "yesterday"}),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"time (header Ce-Time)", "yesterday"},
	}, {
		name:     "extension header that is no attribute name",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   binaryHeader(nil, map[string]string{"Ce-My-Ext": "x"}),
		wantCode: http.StatusBadRequest,
		wantBody: []string{"header Ce-My-Ext"},
	}, {
		name:     "malformed structured JSON",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   structuredHeader(),
		body:     `{"specversion":"1.0","id":`,
		wantCode: http.StatusBadRequest,
		wantBody: []string{"invalid structured-mode CloudEvent"},
	}, {
		name:     "structured event without specversion",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   structuredHeader(),
		body:     `{"id":"order-1","source":"/shop/checkout","type":"shop.order.placed"}`,
		wantCode: http.StatusBadRequest,
		wantBody: []string{"specversion"},
	}, {
		name:     "structured event with unknown specversion",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   structuredHeader(),
		body:     `{"specversion":"2.0","id":"order-1","source":"/shop/checkout","type":"shop.order.placed"}`,
		wantCode: http.StatusBadRequest,
		wantBody: []string{"specversion", "2.0"},
	}, {
		name:     "structured event without id",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   structuredHeader(),
		body:     `{"specversion":"1.0","source":"/shop/checkout","type":"shop.order.placed"}`,
		wantCode: http.StatusBadRequest,
		wantBody: []string{"id: "},
	}, {
		name:     "plain JSON, not a CloudEvent",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   http.Header{"Content-Type": {"application/json"}},
		body:     `{"total":12}`,
		wantCode: http.StatusBadRequest,
		wantBody: []string{"not a CloudEvent"},
	}, {
		name:     "batch",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   http.Header{"Content-Type": {"application/cloudevents-batch+json"}},
		body:     "[" + structuredEvent + "]",
		wantCode: http.StatusUnsupportedMediaType,
		wantBody: []string{"one event a request"},
	}, {
		name:     "unknown event format",
		method:   http.MethodPost,
		path:     brokerPath,
		header:   http.Header{"Content-Type": {"application/cloudevents+avro"}},
		body:     "x",
		wantCode: http.StatusUnsupportedMediaType,
		wantBody: []string{"application/cloudevents+avro"},
	}, {
		name:       "GET on a Broker",
		method:     http.MethodGet,
		path:       brokerPath,
		wantCode:   http.StatusMethodNotAllowed,
		wantHeader: map[string]string{"Allow": "POST, OPTIONS"},
	}, {
		name:       "PUT on a Broker",
		method:     http.MethodPut,
		path:       brokerPath,
		header:     binaryHeader(nil, nil),
		body:       `{}`,
		wantCode:   http.StatusMethodNotAllowed,
		wantHeader: map[string]string{"Allow": "POST, OPTIONS"},
	}, {
		name:       "DELETE on an unknown Broker is still the wrong method",
		method:     http.MethodDelete,
		path:       "/shop/other",
		wantCode:   http.StatusMethodNotAllowed,
		wantHeader: map[string]string{"Allow": "POST, OPTIONS"},
	}, {
		name:       "OPTIONS probe",
		method:     http.MethodOptions,
		path:       brokerPath,
		wantCode:   http.StatusOK,
		wantHeader: map[string]string{"Allow": "POST, OPTIONS", "WebHook-Allowed-Origin": ""},
	}, {
		name:     "OPTIONS webhook handshake",
		method:   http.MethodOptions,
		path:     brokerPath,
		header:   http.Header{"Webhook-Request-Origin": {"eventemitter.example.com"}, "Webhook-Request-Rate": {"120"}},
		wantCode: http.StatusOK,
		wantHeader: map[string]string{
			"Allow":                  "POST, OPTIONS",
			"WebHook-Allowed-Origin": "eventemitter.example.com",
			"WebHook-Allowed-Rate":   "*",
		},
	}, {
		name:       "OPTIONS handshake for an unknown Broker grants nothing",
		method:     http.MethodOptions,
		path:       "/shop/other",
		header:     http.Header{"Webhook-Request-Origin": {"eventemitter.example.com"}},
		wantCode:   http.StatusNotFound,
		wantHeader: map[string]string{"WebHook-Allowed-Origin": ""},
	}, {
		name:     "unknown Broker",
		method:   http.MethodPost,
		path:     "/shop/other",
		header:   binaryHeader(nil, nil),
		body:     `{}`,
		wantCode: http.StatusNotFound,
		wantBody: []string{"Broker shop/other not found"},
	}, {
		name:     "Broker of that name in another namespace",
		method:   http.MethodPost,
		path:     "/other/default",
		header:   binaryHeader(nil, nil),
		body:     `{}`,
		wantCode: http.StatusNotFound,
	}, {
		name:     "root path",
		method:   http.MethodPost,
		path:     "/",
		header:   binaryHeader(nil, nil),
		wantCode: http.StatusNotFound,
		wantBody: []string{"/<namespace>/<broker-name>"},
	}, {
		name:     "namespace only",
		method:   http.MethodPost,
		path:     "/shop",
		header:   binaryHeader(nil, nil),
		wantCode: http.StatusNotFound,
	}, {
		name:     "trailing slash",
		method:   http.MethodPost,
		path:     "/shop/",
		header:   binaryHeader(nil, nil),
		wantCode: http.StatusNotFound,
	}, {
		name:     "empty namespace",
		method:   http.MethodPost,
		path:     "//default",
		header:   binaryHeader(nil, nil),
		wantCode: http.StatusNotFound,
	}, {
		name:     "three segments",
		method:   http.MethodPost,
		path:     brokerPath + "/more",
		header:   binaryHeader(nil, nil),
		wantCode: http.StatusNotFound,
	}, {
		name:       "JetStream cannot store the event",
		method:     http.MethodPost,
		path:       brokerPath,
		header:     binaryHeader(nil, nil),
		body:       `{}`,
		pubErr:     errors.New("nats: no responders available for request"),
		wantCode:   http.StatusServiceUnavailable,
		wantHeader: map[string]string{"Retry-After": "1"},
		wantBody:   []string{`"order-1"`, "shop/default", "no responders"},
	}, {
		name:     "health",
		method:   http.MethodGet,
		path:     HealthPath,
		ready:    func() error { return errors.New("JetStream unreachable") },
		wantCode: http.StatusOK,
	}, {
		name:     "ready",
		method:   http.MethodGet,
		path:     ReadyPath,
		ready:    func() error { return nil },
		wantCode: http.StatusOK,
	}, {
		name:     "ready without a check",
		method:   http.MethodGet,
		path:     ReadyPath,
		wantCode: http.StatusOK,
	}, {
		name:     "not ready",
		method:   http.MethodGet,
		path:     ReadyPath,
		ready:    func() error { return errors.New("Brokers not synced") },
		wantCode: http.StatusServiceUnavailable,
		wantBody: []string{"Brokers not synced"},
	}, {
		name:       "POST to the health path is no event",
		method:     http.MethodPost,
		path:       HealthPath,
		header:     binaryHeader(nil, nil),
		body:       `{}`,
		wantCode:   http.StatusMethodNotAllowed,
		wantHeader: map[string]string{"Allow": "GET, HEAD"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakePublisher{err: tc.pubErr}
			h := NewHandler(onlyBrokers(defaultBroker), pub, Options{Ready: tc.ready})
			resp := serve(t, h, tc.method, tc.path, tc.header, tc.body)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status = %d, want %d; body: %s", resp.StatusCode, tc.wantCode, body)
			}
			for k, want := range tc.wantHeader {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			for _, part := range tc.wantBody {
				if !strings.Contains(body, part) {
					t.Errorf("body %q does not say %q", body, part)
				}
			}
			if resp.StatusCode >= 400 {
				if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
					t.Errorf("error Content-Type = %q, want plain text", got)
				}
			}
			wantStored := 0
			if tc.wantCode == http.StatusAccepted {
				wantStored = 1
			}
			if got := len(pub.stored()); got != wantStored {
				t.Errorf("events stored = %d, want %d", got, wantStored)
			}
		})
	}
}

// TestPublishesToBrokerOfPath holds that an event goes to the Broker its
// path names, among several.
func TestPublishesToBrokerOfPath(t *testing.T) {
	brokers := []types.NamespacedName{defaultBroker, {Namespace: "shop", Name: "audit"}, {Namespace: "billing", Name: "default"}}
	pub := &fakePublisher{}
	h := NewHandler(onlyBrokers(brokers...), pub, Options{})
	for _, b := range brokers {
		resp := serve(t, h, http.MethodPost, "/"+b.Namespace+"/"+b.Name, binaryHeader(nil, map[string]string{"Ce-Id": b.String()}), `{}`)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST to %s: status = %d, want 202", b, resp.StatusCode)
		}
	}
	var got []string
	for _, p := range pub.stored() {
		got = append(got, p.broker.String()+" "+p.ev.ID())
	}
	want := []string{"shop/default shop/default", "shop/audit shop/audit", "billing/default billing/default"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want, +got):\n%s", diff)
	}
}

// TestUnknownBrokerWhileLoading holds that a Broker the ingress does not
// know yet gets 503 with Retry-After until the Brokers are loaded, and
// 404 after.
func TestUnknownBrokerWhileLoading(t *testing.T) {
	var loaded bool
	h := NewHandler(onlyBrokers(), &fakePublisher{}, Options{Loaded: func() bool { return loaded }})
	resp := serve(t, h, http.MethodPost, "/shop/default", binaryHeader(nil, nil), `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("while loading: status = %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	loaded = true
	if resp := serve(t, h, http.MethodPost, "/shop/default", binaryHeader(nil, nil), `{}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("once loaded: status = %d, want 404", resp.StatusCode)
	}
}

// TestRetryAfter holds Retry-After to Options.RetryAfter in whole
// seconds, rounded up so that it never says 0.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		retryAfter time.Duration
		want       string
	}{
		{0, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{100 * time.Millisecond, "1"},
		{30 * time.Second, "30"},
	} {
		t.Run(tc.retryAfter.String(), func(t *testing.T) {
			pub := &fakePublisher{err: errors.New("nats: timeout")}
			h := NewHandler(onlyBrokers(defaultBroker), pub, Options{RetryAfter: tc.retryAfter})
			resp := serve(t, h, http.MethodPost, brokerPath, binaryHeader(nil, nil), `{}`)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503", resp.StatusCode)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.want {
				t.Errorf("Retry-After = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCancelledRequest holds that a request whose context ends before
// the event is stored is not answered 202, whether it ended while
// JetStream was storing it or before the ingress got to it.
func TestCancelledRequest(t *testing.T) {
	t.Run("while publishing", func(t *testing.T) {
		pub := &fakePublisher{blocked: make(chan struct{}, 1)}
		h := NewHandler(onlyBrokers(defaultBroker), pub, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, brokerPath, strings.NewReader(`{}`))
		r.Header = binaryHeader(nil, nil)
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(w, r)
		}()
		<-pub.blocked
		cancel()
		<-done
		if w.Code == http.StatusAccepted {
			t.Fatalf("status = 202 for a request cancelled before its event was stored")
		}
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status = %d, want 503", w.Code)
		}
	})
	t.Run("before publishing", func(t *testing.T) {
		pub := &fakePublisher{}
		h := NewHandler(onlyBrokers(defaultBroker), pub, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, brokerPath, strings.NewReader(`{}`))
		r.Header = binaryHeader(nil, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status = %d, want 503", w.Code)
		}
		if got := len(pub.stored()); got != 0 {
			t.Errorf("events stored = %d, want 0: the sender has given up and will retry", got)
		}
	})
}

// TestBodyLimit holds MaxEventBytes to the whole body, in both modes,
// declared or chunked, and holds that a longer chunked body is not read
// past the limit.
func TestBodyLimit(t *testing.T) {
	const limit = 1024
	binaryAt := func(n int) (http.Header, string) {
		return binaryHeader(nil, map[string]string{"Content-Type": "text/plain"}), strings.Repeat("x", n)
	}
	structuredAt := func(n int) (http.Header, string) {
		head := `{"specversion":"1.0","id":"order-1","source":"/shop/checkout","type":"shop.order.placed","datacontenttype":"text/plain","data":"`
		tail := `"}`
		return structuredHeader(), head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	for _, mode := range []struct {
		name string
		make func(n int) (http.Header, string)
	}{{"binary", binaryAt}, {"structured", structuredAt}} {
		for _, tc := range []struct {
			name    string
			size    int
			chunked bool
			want    int
		}{
			{"at the limit", limit, false, http.StatusAccepted},
			{"past the limit", limit + 1, false, http.StatusRequestEntityTooLarge},
			{"at the limit, chunked", limit, true, http.StatusAccepted},
			{"past the limit, chunked", limit + 1, true, http.StatusRequestEntityTooLarge},
			{"far past the limit, chunked", 64 * limit, true, http.StatusRequestEntityTooLarge},
		} {
			t.Run(mode.name+" "+tc.name, func(t *testing.T) {
				pub := &fakePublisher{}
				h := NewHandler(onlyBrokers(defaultBroker), pub, Options{MaxEventBytes: limit})
				header, body := mode.make(tc.size)
				src := &countingReader{r: strings.NewReader(body)}
				r := httptest.NewRequest(http.MethodPost, brokerPath, src)
				r.Header = header
				r.ContentLength = int64(len(body))
				if tc.chunked {
					r.ContentLength = -1
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.want {
					t.Fatalf("status = %d, want %d; body: %s", w.Code, tc.want, w.Body)
				}
				if src.n > limit+1 {
					t.Errorf("read %d bytes of the body, want at most %d", src.n, limit+1)
				}
				if tc.want == http.StatusAccepted {
					if got := len(pub.stored()[0].ev.Data()); got == 0 {
						t.Error("the stored event lost its data")
					}
				} else if got := len(pub.stored()); got != 0 {
					t.Errorf("events stored = %d, want 0", got)
				}
			})
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestBodyLimitBeforeReading holds that a declared length past the limit
// is refused before any of the body is read.
func TestBodyLimitBeforeReading(t *testing.T) {
	src := &countingReader{r: strings.NewReader(strings.Repeat("x", 2048))}
	r := httptest.NewRequest(http.MethodPost, brokerPath, src)
	r.Header = binaryHeader(nil, nil)
	r.ContentLength = 2048
	w := httptest.NewRecorder()
	NewHandler(onlyBrokers(defaultBroker), &fakePublisher{}, Options{MaxEventBytes: 1024}).ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", w.Code)
	}
	if !strings.Contains(w.Body.String(), "2048") {
		t.Errorf("body %q does not name the event's length", w.Body)
	}
	if src.n != 0 {
		t.Errorf("read %d bytes of a body declared too long, want 0", src.n)
	}
}

// TestDefaultMaxEventBytes holds the documented default.
func TestDefaultMaxEventBytes(t *testing.T) {
	h := NewHandler(onlyBrokers(defaultBroker), &fakePublisher{}, Options{})
	for _, tc := range []struct {
		size int64
		want int
	}{{DefaultMaxEventBytes, http.StatusAccepted}, {DefaultMaxEventBytes + 1, http.StatusRequestEntityTooLarge}} {
		header, body := binaryHeader(nil, map[string]string{"Content-Type": "text/plain"}), strings.Repeat("x", int(tc.size))
		if got := serve(t, h, http.MethodPost, brokerPath, header, body).StatusCode; got != tc.want {
			t.Errorf("%d bytes: status = %d, want %d", tc.size, got, tc.want)
		}
	}
}

// TestTheRequestsTraceGoesWithTheEvent: the traceparent (and tracestate)
// of the request that brought an event are stored with it as the
// Distributed Tracing extension, unless the event has its own; a
// malformed traceparent is not.
func TestTheRequestsTraceGoesWithTheEvent(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	pub := &fakePublisher{}
	h := NewHandler(onlyBrokers(defaultBroker), pub, Options{})
	path := "/" + defaultBroker.Namespace + "/" + defaultBroker.Name
	for _, extra := range []map[string]string{
		{"Ce-Id": "from-request", "Traceparent": parent, "Tracestate": "vendor=1"},
		{"Ce-Id": "own", "Traceparent": parent, "Ce-Traceparent": "00-11111111111111111111111111111111-2222222222222222-01"},
		{"Ce-Id": "malformed", "Traceparent": "00-not-a-trace"},
	} {
		if resp := serve(t, h, http.MethodPost, path, binaryHeader(nil, extra), `{}`); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %v: %d", extra, resp.StatusCode)
		}
	}
	got := map[string]string{}
	for _, p := range pub.stored() {
		ext := p.ev.Extensions()
		got[p.ev.ID()] = fmt.Sprint(ext[eventing.TraceParentExtension], " ", ext[eventing.TraceStateExtension])
	}
	want := map[string]string{
		"from-request": parent + " vendor=1",
		"own":          "00-11111111111111111111111111111111-2222222222222222-01 <nil>",
		"malformed":    "<nil> <nil>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace context stored with each event (-want, +got):\n%s", diff)
	}
}
