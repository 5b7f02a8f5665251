package adapter

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/apis"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/sources"
)

// request is what a sink received: the CloudEvents headers and the body.
type request struct {
	Header map[string]string
	Body   string
}

// TestEventShape sends each source's tick through the Sender the adapter
// runs with to a real HTTP sink, and checks what arrives against the
// attributes Knative's PingSource sends: binary mode, type
// dev.knative.sources.ping, source /apis/v1/namespaces/<ns>/pingsources/
// <name>, a UUID id, the tick's time, the data with its content type, and
// the overrides' extensions.
func TestEventShape(t *testing.T) {
	binary := []byte{0x00, 0xff, 0x10, 'p', 'n', 'g'}
	tests := []struct {
		name string
		src  *sourcesv1.PingSource
		want request
	}{{
		name: "JSON data",
		src:  newSource("json", WithData("application/json", `{"message": "Hello world!"}`)),
		want: request{
			Header: map[string]string{
				"Ce-Specversion": "1.0",
				"Ce-Type":        "dev.knative.sources.ping",
				"Ce-Source":      "/apis/v1/namespaces/shop/pingsources/json",
				"Ce-Time":        "2026-11-22T09:30:00Z",
				"Content-Type":   "application/json",
			},
			Body: `{"message": "Hello world!"}`,
		},
	}, {
		name: "bytes in dataBase64: sent decoded",
		src:  newSource("bytes", WithDataBase64("application/octet-stream", base64.StdEncoding.EncodeToString(binary))),
		want: request{
			Header: map[string]string{
				"Ce-Specversion": "1.0",
				"Ce-Type":        "dev.knative.sources.ping",
				"Ce-Source":      "/apis/v1/namespaces/shop/pingsources/bytes",
				"Ce-Time":        "2026-11-22T09:30:00Z",
				"Content-Type":   "application/octet-stream",
			},
			Body: string(binary),
		},
	}, {
		name: "no data, overrides: no content type, the extensions added",
		src:  newSource("bare", WithExtensions(map[string]string{"team": "shop", "env": "prod"})),
		want: request{
			Header: map[string]string{
				"Ce-Specversion": "1.0",
				"Ce-Type":        "dev.knative.sources.ping",
				"Ce-Source":      "/apis/v1/namespaces/shop/pingsources/bare",
				"Ce-Time":        "2026-11-22T09:30:00Z",
				"Ce-Team":        "shop",
				"Ce-Env":         "prod",
			},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []request
			var ids []string
			sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				h := map[string]string{}
				for _, name := range []string{"Ce-Specversion", "Ce-Type", "Ce-Source", "Ce-Time", "Ce-Team", "Ce-Env", "Content-Type"} {
					if v := r.Header.Get(name); v != "" {
						h[name] = v
					}
				}
				mu.Lock()
				got = append(got, request{Header: h, Body: string(body)})
				ids = append(ids, r.Header.Get("Ce-Id"))
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
			}))
			defer sink.Close()

			clk := clocktesting.NewFakeClock(at(9, 29, 30))
			sender := sources.NewSender(delivery.New(nil, nil), delivery.Params{Retry: 0})
			s := NewScheduler(clk, sender, DefaultMaxLateness, slog.New(slog.NewTextHandler(io.Discard, nil)))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.Run(ctx)
			}()
			defer func() {
				cancel()
				<-done
				s.cancelSends()
				s.sends.Wait()
			}()

			src := tc.src.DeepCopy()
			src.Status.SinkURI = apis.HTTP(sink.Listener.Addr().String())
			if err := s.Upsert(src); err != nil {
				t.Fatal(err)
			}
			s.Lead(clk.Now(), at(10, 0, 0))
			clk.Step(at(9, 30, 0).Sub(clk.Now()))
			waitFor(t, "the 09:30 tick", func() bool {
				// A Step between the loop's reading of the clock and its
				// setting of a timer leaves the timer late; waking the
				// loop makes it look again.
				s.wakeUp()
				mu.Lock()
				defer mu.Unlock()
				return len(got) == 1
			})
			clk.Step(at(9, 31, 0).Sub(clk.Now()))
			waitFor(t, "the 09:31 tick", func() bool {
				// A Step between the loop's reading of the clock and its
				// setting of a timer leaves the timer late; waking the
				// loop makes it look again.
				s.wakeUp()
				mu.Lock()
				defer mu.Unlock()
				return len(got) == 2
			})

			mu.Lock()
			defer mu.Unlock()
			if d := cmp.Diff(tc.want, got[0]); d != "" {
				t.Errorf("the 09:30 tick's request (-want, +got):\n%s", d)
			}
			if got[1].Header["Ce-Time"] != "2026-11-22T09:31:00Z" {
				t.Errorf("the 09:31 tick's ce-time = %q, want 2026-11-22T09:31:00Z", got[1].Header["Ce-Time"])
			}
			for _, id := range ids {
				if _, err := uuid.Parse(id); err != nil {
					t.Errorf("ce-id %q is not a UUID: %v", id, err)
				}
			}
			if ids[0] == ids[1] {
				t.Errorf("two ticks share the id %s", ids[0])
			}
		})
	}
}
