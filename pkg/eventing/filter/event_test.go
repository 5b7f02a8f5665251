package filter

import (
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// orderTime is the time of the order event; its string form is
// "2024-05-01T12:00:00.5Z".
var orderTime = time.Date(2024, 5, 1, 14, 0, 0, 500_000_000, time.FixedZone("CEST", 2*60*60))

// testEvents are the events every filter row is matched against, by name.
func testEvents(t testing.TB) map[string]*event.Event {
	t.Helper()
	return map[string]*event.Event{
		// order carries every context attribute and an extension of each
		// kind.
		"order": newEvent(t, event.CloudEventsVersionV1,
			withType("com.example.order.created"),
			withSource("https://shop.example.com/orders"),
			withSubject("order-123"),
			withTime(orderTime),
			withDataSchema("https://schemas.example.com/order.json"),
			withDataContentType("application/json"),
			withExtension("region", "eu-west"),
			withExtension("priority", 5),
			withExtension("urgent", true),
			withExtension("empty", ""),
			withExtension("callback", "https://hooks.example.com/done"),
		),
		// payment has only the required attributes, and a relative source.
		"payment": newEvent(t, event.CloudEventsVersionV1,
			withType("com.example.payment.settled"),
			withSource("/payments"),
		),
		// legacy is a CloudEvents 0.3 event.
		"legacy": newEvent(t, event.CloudEventsVersionV03,
			withType("com.example.order.created"),
			withSource("https://shop.example.com/orders"),
			withSubject("order-456"),
			withExtension("region", "us-east"),
		),
	}
}

type eventOption func(testing.TB, *event.Event)

func newEvent(t testing.TB, version string, opts ...eventOption) *event.Event {
	t.Helper()
	ev := event.New(version)
	ev.SetID("id-1")
	for _, opt := range opts {
		opt(t, &ev)
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("Invalid test event: %v", err)
	}
	return &ev
}

func withType(s string) eventOption {
	return func(_ testing.TB, ev *event.Event) { ev.SetType(s) }
}

func withSource(s string) eventOption {
	return func(_ testing.TB, ev *event.Event) { ev.SetSource(s) }
}

func withSubject(s string) eventOption {
	return func(_ testing.TB, ev *event.Event) { ev.SetSubject(s) }
}

func withTime(tm time.Time) eventOption {
	return func(_ testing.TB, ev *event.Event) { ev.SetTime(tm) }
}

func withDataSchema(s string) eventOption {
	return func(_ testing.TB, ev *event.Event) { ev.SetDataSchema(s) }
}

func withDataContentType(s string) eventOption {
	return func(_ testing.TB, ev *event.Event) { ev.SetDataContentType(s) }
}

func withExtension(name string, value any) eventOption {
	return func(t testing.TB, ev *event.Event) {
		t.Helper()
		if err := ev.Context.SetExtension(name, value); err != nil {
			t.Fatalf("SetExtension(%q, %v): %v", name, value, err)
		}
	}
}
