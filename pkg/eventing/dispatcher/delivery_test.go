package dispatcher

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/jetstream"
)

// An event reaches the subscriber of each Trigger it matches in binary
// mode, as the producer sent it, without the Broker's TTL; a Trigger it
// does not match delivers nothing, and acknowledges it all the same.
func TestDeliversMatchingEventsInBinaryMode(t *testing.T) {
	e := newEnv(t)
	matching := e.newSubscriber()
	other := e.newSubscriber()
	matchingTrigger := newTrigger("matching", matching.url, withType("dev.flywheel.order.created"))
	otherTrigger := newTrigger("other", other.url, withType("dev.flywheel.order.deleted"))
	e.apply(matchingTrigger)
	e.apply(otherTrigger)

	ev := cloudevents.New()
	ev.SetID("order-42")
	ev.SetSource("/shop/orders")
	ev.SetType("dev.flywheel.order.created")
	ev.SetSubject("42")
	ev.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ev.SetDataSchema("https://example.com/order.json")
	ev.SetExtension("color", "blue")
	ev.SetExtension("priority", 7)
	// A hop count an earlier Broker left: taken off before delivery.
	ev.SetExtension(TTLExtension, 9)
	if err := ev.SetData(cloudevents.ApplicationJSON, map[string]any{"item": "book", "count": 2}); err != nil {
		t.Fatal(err)
	}
	e.publish(&ev)

	e.settle(matchingTrigger)
	e.settle(otherTrigger)
	want := []request{{
		Attrs: map[string]string{
			"ce-specversion": "1.0",
			"ce-id":          "order-42",
			"ce-source":      "/shop/orders",
			"ce-type":        "dev.flywheel.order.created",
			"ce-subject":     "42",
			"ce-time":        "2026-01-02T03:04:05Z",
			"ce-dataschema":  "https://example.com/order.json",
			"ce-color":       "blue",
			"ce-priority":    "7",
			"content-type":   "application/json",
		},
		Body: `{"count":2,"item":"book"}`,
	}}
	if diff := cmp.Diff(want, matching.requests()); diff != "" {
		t.Errorf("the matching Trigger's subscriber got (-want, +got):\n%s", diff)
	}
	if got := other.requests(); len(got) != 0 {
		t.Errorf("the other Trigger's subscriber got %v, want nothing", got)
	}
}

// A subscriber failing twice gets the event a third time with retry: 2,
// and once it took it the event is acknowledged: not delivered again.
func TestRetriesUntilTheSubscriberTakesTheEvent(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber(func(s *subscriber) {
		s.respond = func(attempt int, _ request) reply {
			if attempt <= 2 {
				return reply{status: http.StatusInternalServerError}
			}
			return reply{status: http.StatusOK}
		}
	})
	tr := newTrigger("retried", sub.url, withRetry(2))
	e.apply(tr)

	e.publish(newEvent("e-1", "dev.flywheel.test"))

	e.settle(tr)
	if diff := cmp.Diff([]string{"e-1", "e-1", "e-1"}, sub.ids()); diff != "" {
		t.Errorf("attempts (-want, +got):\n%s", diff)
	}
}

// An event every attempt failed for goes to the dead-letter sink with
// the extensions that say why, and is acknowledged.
func TestDeadLettersAnEventThatFailedEveryAttempt(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber(func(s *subscriber) {
		s.respond = func(int, request) reply {
			return reply{status: http.StatusInternalServerError, body: "out of stock"}
		}
	})
	sink := e.newSubscriber()
	tr := newTrigger("dead-lettered", sub.url, withRetry(1), withDeadLetterSink(sink.url))
	e.apply(tr)

	e.publish(newEvent("e-1", "dev.flywheel.test"))

	e.settle(tr)
	if diff := cmp.Diff([]string{"e-1", "e-1"}, sub.ids()); diff != "" {
		t.Errorf("attempts to the subscriber (-want, +got):\n%s", diff)
	}
	want := []request{{
		Attrs: map[string]string{
			"ce-specversion":                    "1.0",
			"ce-id":                             "e-1",
			"ce-source":                         "/test",
			"ce-type":                           "dev.flywheel.test",
			"content-type":                      "application/json",
			"ce-" + delivery.ExtensionErrorDest: sub.url.String(),
			"ce-" + delivery.ExtensionErrorCode: "500",
			"ce-" + delivery.ExtensionErrorData: base64.StdEncoding.EncodeToString([]byte("out of stock")),
		},
		Body: `{"id":"e-1"}`,
	}}
	if diff := cmp.Diff(want, sink.requests()); diff != "" {
		t.Errorf("the dead-letter sink got (-want, +got):\n%s", diff)
	}
}

// Without a dead-letter sink, an event every attempt failed for is
// dropped: JetStream is told to terminate it, not to redeliver it.
func TestDropsAnEventThatFailedEveryAttemptWithoutDeadLetterSink(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber(func(s *subscriber) {
		s.respond = func(int, request) reply { return reply{status: http.StatusServiceUnavailable} }
	})
	tr := newTrigger("dropped", sub.url, withRetry(1))
	e.apply(tr)
	terminated, err := e.nc.SubscribeSync(fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.%s.%s",
		jetstream.StreamName(e.broker), jetstream.ConsumerName(tr.UID)))
	if err != nil {
		t.Fatal(err)
	}

	e.publish(newEvent("e-1", "dev.flywheel.test"))

	e.settle(tr)
	if diff := cmp.Diff([]string{"e-1", "e-1"}, sub.ids()); diff != "" {
		t.Errorf("attempts (-want, +got):\n%s", diff)
	}
	if _, err := terminated.NextMsg(waitTimeout); err != nil {
		t.Errorf("no advisory that the event was terminated: %v", err)
	}
}

// respondWith answers every request for an event of type eventType with
// 200 and the binary-mode event reply(req), others with 202.
func respondWith(eventType string, makeReply func(req request) *cloudevents.Event) func(int, request) reply {
	return func(_ int, req request) reply {
		if req.Attrs["ce-type"] != eventType {
			return reply{status: http.StatusAccepted}
		}
		ev := makeReply(req)
		return reply{
			status: http.StatusOK,
			header: map[string]string{
				"Ce-Specversion": ev.SpecVersion(),
				"Ce-Id":          ev.ID(),
				"Ce-Source":      ev.Source(),
				"Ce-Type":        ev.Type(),
				"Content-Type":   ev.DataContentType(),
			},
			body: string(ev.Data()),
		}
	}
}

// A subscriber's reply is stored in the Broker with one hop less to
// live, and reaches the Triggers that match it.
func TestStoresRepliesInTheBroker(t *testing.T) {
	e := newEnv(t)
	replier := e.newSubscriber(func(s *subscriber) {
		s.respond = respondWith("dev.flywheel.order.created", func(req request) *cloudevents.Event {
			ev := cloudevents.New()
			ev.SetID("reply-to-" + req.id())
			ev.SetSource("/billing")
			ev.SetType("dev.flywheel.invoice.created")
			if err := ev.SetData("text/plain", []byte("invoice for "+req.id())); err != nil {
				panic(err)
			}
			return &ev
		})
	})
	replies := e.newSubscriber()
	orders := newTrigger("orders", replier.url, withType("dev.flywheel.order.created"))
	invoices := newTrigger("invoices", replies.url, withType("dev.flywheel.invoice.created"))
	e.apply(orders)
	e.apply(invoices)
	// A consumer of the test's own sees what the Broker stored.
	observer, err := e.js.CreateConsumer(e.ctx, jetstream.StreamName(e.broker), natsjs.ConsumerConfig{
		Durable:       "observer",
		DeliverPolicy: natsjs.DeliverNewPolicy,
		AckPolicy:     natsjs.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}

	e.publish(newEvent("order-1", "dev.flywheel.order.created"))
	withTTL := newEvent("order-2", "dev.flywheel.order.created")
	withTTL.SetExtension(TTLExtension, 10)
	e.publish(withTTL)

	replies.waitFor(2)
	e.settle(orders)
	e.settle(invoices)
	got := replies.requests()
	slices.SortFunc(got, func(a, b request) int { return strings.Compare(a.id(), b.id()) })
	want := []request{{
		Attrs: map[string]string{
			"ce-specversion": "1.0",
			"ce-id":          "reply-to-order-1",
			"ce-source":      "/billing",
			"ce-type":        "dev.flywheel.invoice.created",
			"content-type":   "text/plain",
		},
		Body: "invoice for order-1",
	}, {
		Attrs: map[string]string{
			"ce-specversion": "1.0",
			"ce-id":          "reply-to-order-2",
			"ce-source":      "/billing",
			"ce-type":        "dev.flywheel.invoice.created",
			"content-type":   "text/plain",
		},
		Body: "invoice for order-2",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the replies' Trigger's subscriber got (-want, +got):\n%s", diff)
	}

	batch, err := observer.Fetch(4, natsjs.FetchMaxWait(waitTimeout))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for msg := range batch.Messages() {
		ev, err := jetstream.Decode(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		ttl, ok := ev.Extensions()[TTLExtension]
		stored[ev.ID()] = "none"
		if ok {
			stored[ev.ID()] = fmt.Sprint(ttl)
		}
		_ = msg.Ack()
	}
	wantStored := map[string]string{
		"order-1":          "none",
		"order-2":          "10",
		"reply-to-order-1": fmt.Sprint(DefaultTTL - 1),
		"reply-to-order-2": "9",
	}
	if diff := cmp.Diff(wantStored, stored); diff != "" {
		t.Errorf("the Broker's TTL of the events stored (-want, +got):\n%s", diff)
	}
}

// A Trigger whose subscriber answers every event with one the Trigger
// matches again delivers as many events as the first one had hops to
// live, and then stops.
func TestReplyLoopEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  any
		want int
	}{
		{name: "hops set by the producer", ttl: 5, want: 5},
		{name: "default hops", want: DefaultTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var mu sync.Mutex
			n := 0
			loop := e.newSubscriber(func(s *subscriber) {
				s.respond = respondWith("dev.flywheel.loop", func(request) *cloudevents.Event {
					mu.Lock()
					defer mu.Unlock()
					n++
					return newEvent(fmt.Sprintf("loop-%d", n), "dev.flywheel.loop")
				})
			})
			tr := newTrigger("loop", loop.url, withType("dev.flywheel.loop"))
			e.apply(tr)

			first := newEvent("loop-0", "dev.flywheel.loop")
			if tc.ttl != nil {
				first.SetExtension(TTLExtension, tc.ttl)
			}
			e.publish(first)

			// A reply is stored before the event it answers is
			// acknowledged: settled, the loop has ended.
			e.settle(tr)
			got := loop.requests()
			if len(got) != tc.want {
				t.Errorf("the loop delivered %d events, want %d", len(got), tc.want)
			}
			for _, r := range got {
				if v, ok := r.Attrs["ce-"+TTLExtension]; ok {
					t.Errorf("event %s reached the subscriber with %s: %s", r.id(), TTLExtension, v)
					break
				}
			}
		})
	}
}
