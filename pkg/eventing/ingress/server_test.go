package ingress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/eventing"
)

// startServer serves h on loopback with a Server, as the binary does, and
// returns its address.
// declined counts the connections the fast path declined to net/http.
func startServer(t *testing.T, h *Handler, declined *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, nil)
	srv.std.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		declined.Add(1)
		return ctx
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// seen is what a producer sees of an answer.
type seen struct {
	Status                         int
	ContentType, RetryAfter, Allow string
	XContentTypeOptions            string
	Body                           string
	Stored                         int
}

// TestServerAnswersAsTheHandler holds the Server, whose fast path takes
// the POSTs of events, to the answers of the handler alone (net/http's),
// request for request: status, the fields a producer acts on, the reason
// given, and whether the event was stored. The requests go one after
// another on kept-alive connections, so that an answer that left the
// connection out of step would show in the next.
func TestServerAnswersAsTheHandler(t *testing.T) {
	unknown := "/shop/unknown"
	type request struct {
		name, method, path string
		header             http.Header
		body               string
		chunked            bool
		pubErr             error
		// declined: the fast path leaves the request to net/http.
		declined bool
	}
	requests := []request{
		{name: "binary", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil), body: `{"total":12}`},
		{name: "binary, chunked", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil), body: `{"total":12}`, chunked: true},
		{name: "binary, no data", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil)},
		{name: "structured", method: http.MethodPost, path: brokerPath, header: structuredHeader(), body: structuredEvent},
		{name: "missing id and source", method: http.MethodPost, path: brokerPath, header: binaryHeader([]string{"Ce-Id", "Ce-Source"}, nil), body: `{}`},
		{name: "not a CloudEvent", method: http.MethodPost, path: brokerPath, header: http.Header{"Content-Type": {"text/plain"}}, body: "hello"},
		{name: "a batch", method: http.MethodPost, path: brokerPath, header: http.Header{"Content-Type": {"application/cloudevents-batch+json"}}, body: "[]"},
		{name: "malformed structured", method: http.MethodPost, path: brokerPath, header: structuredHeader(), body: `{"specversion":`},
		{name: "not stored", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil), body: `{}`, pubErr: errors.New("nats: timeout")},
		{name: "past the limit", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil), body: strings.Repeat("x", 1025), declined: true},
		{name: "past the limit, chunked", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil), body: strings.Repeat("x", 1025), chunked: true},
		{name: "at the limit, chunked", method: http.MethodPost, path: brokerPath, header: binaryHeader(nil, nil), body: strings.Repeat("x", 1024), chunked: true},
		{name: "unknown Broker", method: http.MethodPost, path: unknown, header: binaryHeader(nil, nil), body: `{}`, declined: true},
		{name: "not a Broker's path", method: http.MethodPost, path: "/shop/default/more", header: binaryHeader(nil, nil), body: `{}`, declined: true},
		{name: "with a query", method: http.MethodPost, path: brokerPath + "?x=1", header: binaryHeader(nil, nil), body: `{}`, declined: true},
		{name: "percent-encoded", method: http.MethodPost, path: "/shop/d%65fault", header: binaryHeader(nil, nil), body: `{}`, declined: true},
		{name: "GET", method: http.MethodGet, path: brokerPath, declined: true},
		{name: "PUT", method: http.MethodPut, path: brokerPath, header: binaryHeader(nil, nil), body: `{}`, declined: true},
		{name: "OPTIONS", method: http.MethodOptions, path: brokerPath, header: http.Header{"Webhook-Request-Origin": {"example.com"}}, declined: true},
		{name: "health", method: http.MethodGet, path: HealthPath, declined: true},
	}
	do := func(t *testing.T, via func(req *http.Request) seen, rq request) seen {
		t.Helper()
		var body io.Reader = strings.NewReader(rq.body)
		if rq.chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req := httptest.NewRequest(rq.method, rq.path, body)
		req.Header = rq.header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		if rq.chunked {
			req.ContentLength = -1
		}
		return via(req)
	}
	for _, rq := range requests {
		t.Run(rq.name, func(t *testing.T) {
			answers := map[string]seen{}
			for _, via := range []string{"handler", "server"} {
				pub := &fakePublisher{err: rq.pubErr}
				h := NewHandler(onlyBrokers(defaultBroker), pub, Options{MaxEventBytes: 1024})
				var send func(*http.Request) seen
				if via == "handler" {
					send = func(req *http.Request) seen {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						resp := w.Result()
						defer resp.Body.Close()
						return seenOf(t, resp)
					}
				} else {
					var declined atomic.Int64
					addr := startServer(t, h, &declined)
					t.Cleanup(func() {
						if got := declined.Load() > 0; got != rq.declined {
							t.Errorf("declined to net/http: %t, want %t", got, rq.declined)
						}
					})
					client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
					t.Cleanup(client.CloseIdleConnections)
					send = func(req *http.Request) seen {
						req.RequestURI = ""
						req.URL.Scheme, req.URL.Host, req.Host = "http", addr, addr
						resp, err := client.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						defer resp.Body.Close()
						s := seenOf(t, resp)
						if resp.Header.Get("Date") == "" {
							t.Error("no Date")
						}
						return s
					}
				}
				before := 0
				if via == "server" && rq.pubErr == nil {
					// A request before, on the same connection.
					do(t, send, requests[0])
					before = 1
				}
				s := do(t, send, rq)
				s.Stored = len(pub.stored()) - before
				answers[via] = s
			}
			if diff := cmp.Diff(answers["handler"], answers["server"]); diff != "" {
				t.Errorf("the Server answers otherwise than the handler (-handler, +server):\n%s", diff)
			}
		})
	}
}

func seenOf(t *testing.T, resp *http.Response) seen {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return seen{
		Status:              resp.StatusCode,
		ContentType:         resp.Header.Get("Content-Type"),
		XContentTypeOptions: resp.Header.Get("X-Content-Type-Options"),
		RetryAfter:          resp.Header.Get("Retry-After"),
		Allow:               resp.Header.Get("Allow"),
		Body:                string(b),
	}
}

// TestServerStoresTheRequestsTrace: an event taken on the fast path is
// stored with the trace of the request that brought it, as one taken by
// the handler alone is (TestTheRequestsTraceGoesWithTheEvent).
func TestServerStoresTheRequestsTrace(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	pub := &fakePublisher{}
	var declined atomic.Int64
	addr := startServer(t, NewHandler(onlyBrokers(defaultBroker), pub, Options{}), &declined)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+brokerPath, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = binaryHeader(nil, map[string]string{"Traceparent": parent, "Tracestate": "vendor=1"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || declined.Load() != 0 {
		t.Fatalf("status %d, %d connections declined; want 202 on the fast path", resp.StatusCode, declined.Load())
	}
	stored := pub.stored()
	if len(stored) != 1 {
		t.Fatalf("%d events stored, want 1", len(stored))
	}
	ext := stored[0].ev.Extensions()
	got := []any{ext[eventing.TraceParentExtension], ext[eventing.TraceStateExtension]}
	if diff := cmp.Diff([]any{parent, "vendor=1"}, got); diff != "" {
		t.Errorf("the stored trace context (-want, +got):\n%s", diff)
	}
}
