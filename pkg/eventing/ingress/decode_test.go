package ingress

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
)

// stored is what a subscriber can tell of a stored event: its context
// attributes and extensions, as the SDK types them, and its data bytes.
type stored struct {
	Attributes map[string]any
	Data       []byte
}

func storedOf(ev *event.Event) stored {
	attrs := map[string]any{
		"specversion": ev.SpecVersion(),
		"id":          ev.ID(),
		"source":      ev.Source(),
		"type":        ev.Type(),
	}
	optional := map[string]string{
		"subject":         ev.Subject(),
		"dataschema":      ev.DataSchema(),
		"datacontenttype": ev.DataContentType(),
	}
	if t := ev.Time(); !t.IsZero() {
		optional["time"] = t.Format(time.RFC3339Nano)
	}
	for k, v := range optional {
		if v != "" {
			attrs[k] = v
		}
	}
	for k, v := range ev.Extensions() {
		attrs[k] = v
	}
	return stored{Attributes: attrs, Data: ev.Data()}
}

// TestEventsArriveIntact holds that the Publisher gets every attribute,
// every extension and the data bytes of the event as the producer sent
// it, in either content mode, with nothing added.
func TestEventsArriveIntact(t *testing.T) {
	binaryData := string([]byte{0x00, 0xff, 0xfe, 'a', '\n', 0x80})
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		want   stored
	}{{
		name: "binary, every attribute and extensions",
		header: http.Header{
			"Ce-Specversion": {"1.0"},
			"Ce-Id":          {"order-1"},
			"Ce-Source":      {"https://shop.example.com/checkout"},
			"Ce-Type":        {"shop.order.placed"},
			"Ce-Subject":     {"orders/1"},
			"Ce-Time":        {"2026-05-01T12:34:56.789Z"},
			"Ce-Dataschema":  {"https://shop.example.com/schemas/order.json"},
			"Content-Type":   {"application/octet-stream"},
			"Ce-Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			"Ce-Tenant":      {"acme"},
			// A producer's own arrival time is its to keep.
			"Ce-Knativearrivaltime": {"2020-01-01T00:00:00Z"},
			// Not CloudEvents headers: not part of the event.
			"User-Agent":      {"curl/8.0"},
			"X-Forwarded-For": {"10.0.0.1"},
		},
		body: binaryData,
		want: stored{
			Attributes: map[string]any{
				"specversion":        "1.0",
				"id":                 "order-1",
				"source":             "https://shop.example.com/checkout",
				"type":               "shop.order.placed",
				"subject":            "orders/1",
				"time":               "2026-05-01T12:34:56.789Z",
				"dataschema":         "https://shop.example.com/schemas/order.json",
				"datacontenttype":    "application/octet-stream",
				"traceparent":        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				"tenant":             "acme",
				"knativearrivaltime": "2020-01-01T00:00:00Z",
			},
			Data: []byte(binaryData),
		},
	}, {
		name: "binary, CloudEvents 0.3 stays 0.3",
		header: http.Header{
			"Ce-Specversion": {"0.3"},
			"Ce-Id":          {"order-1"},
			"Ce-Source":      {"/shop/checkout"},
			"Ce-Type":        {"shop.order.placed"},
			"Ce-Schemaurl":   {"https://shop.example.com/schemas/order.json"},
			"Content-Type":   {"application/json"},
		},
		body: `{"total": 12}`,
		want: stored{
			Attributes: map[string]any{
				"specversion":     "0.3",
				"id":              "order-1",
				"source":          "/shop/checkout",
				"type":            "shop.order.placed",
				"dataschema":      "https://shop.example.com/schemas/order.json",
				"datacontenttype": "application/json",
			},
			Data: []byte(`{"total": 12}`),
		},
	}, {
		name:   "structured, JSON data kept byte for byte, typed extensions",
		header: http.Header{"Content-Type": {"application/cloudevents+json"}},
		body: `{"specversion":"1.0","id":"order-1","source":"/shop/checkout","type":"shop.order.placed",
			"subject":"orders/1","time":"2026-05-01T12:34:56.789Z","datacontenttype":"application/json",
			"tenant":"acme","priority":3,"urgent":true,
			"data":{"total": 12.50, "items": [ "a", null ]}}`,
		want: stored{
			Attributes: map[string]any{
				"specversion":     "1.0",
				"id":              "order-1",
				"source":          "/shop/checkout",
				"type":            "shop.order.placed",
				"subject":         "orders/1",
				"time":            "2026-05-01T12:34:56.789Z",
				"datacontenttype": "application/json",
				"tenant":          "acme",
				"priority":        int32(3),
				"urgent":          true,
			},
			Data: []byte(`{"total": 12.50, "items": [ "a", null ]}`),
		},
	}, {
		name:   "structured, data_base64",
		header: http.Header{"Content-Type": {"application/cloudevents+json"}},
		body: `{"specversion":"1.0","id":"order-1","source":"/shop/checkout","type":"shop.order.placed",
			"datacontenttype":"application/octet-stream","data_base64":"AP/+YQqA"}`,
		want: stored{
			Attributes: map[string]any{
				"specversion":     "1.0",
				"id":              "order-1",
				"source":          "/shop/checkout",
				"type":            "shop.order.placed",
				"datacontenttype": "application/octet-stream",
			},
			Data: []byte(binaryData),
		},
	}, {
		name:   "structured, text data",
		header: http.Header{"Content-Type": {"application/cloudevents+json"}},
		body: `{"specversion":"1.0","id":"order-1","source":"/shop/checkout","type":"shop.order.placed",
			"datacontenttype":"text/plain","data":"h\u00e9llo \"you\""}`,
		want: stored{
			Attributes: map[string]any{
				"specversion":     "1.0",
				"id":              "order-1",
				"source":          "/shop/checkout",
				"type":            "shop.order.placed",
				"datacontenttype": "text/plain",
			},
			Data: []byte(`héllo "you"`),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakePublisher{}
			h := NewHandler(onlyBrokers(defaultBroker), pub, Options{})
			resp := serve(t, h, http.MethodPost, brokerPath, tc.header, tc.body)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body: %s", resp.StatusCode, readAll(t, resp.Body))
			}
			events := pub.stored()
			if len(events) != 1 {
				t.Fatalf("events stored = %d, want 1", len(events))
			}
			if got := events[0].broker; got != defaultBroker {
				t.Errorf("stored in Broker %s, want %s", got, defaultBroker)
			}
			if diff := cmp.Diff(tc.want, storedOf(events[0].ev)); diff != "" {
				t.Errorf("stored event (-want, +got):\n%s", diff)
			}
		})
	}
}
