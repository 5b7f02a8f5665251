package delivery

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
)

func TestHeaderValueEncoding(t *testing.T) {
	tests := []struct {
		name, value, encoded string
	}{
		{"plain ASCII is left alone", "dev.flywheel.order/created-1", "dev.flywheel.order/created-1"},
		{"the binding's example", "Euro \u20ac \U0001F600", "Euro%20%E2%82%AC%20%F0%9F%98%80"},
		{"double quote and percent", `say "50%"`, "say%20%2250%25%22"},
		{"control characters", "a\tb\x7f", "a%09b%7F"},
		{"a URI that is already encoded", "/a%20b", "/a%2520b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := encodeHeaderValue(tc.value); got != tc.encoded {
				t.Errorf("encodeHeaderValue(%q) = %q, want %q", tc.value, got, tc.encoded)
			}
			got, err := decodeHeaderValue(tc.encoded)
			if err != nil {
				t.Fatalf("decodeHeaderValue(%q) error = %v", tc.encoded, err)
			}
			if got != tc.value {
				t.Errorf("decodeHeaderValue(%q) = %q, want %q", tc.encoded, got, tc.value)
			}
		})
	}
}

func TestHeaderValueDecoding(t *testing.T) {
	tests := []struct {
		name, header, want string
		wantErr            bool
	}{
		{name: "lower-case hex", header: "%e2%82%ac", want: "\u20ac"},
		{name: "needlessly encoded", header: "%41%42", want: "AB"},
		{name: "a quoted string from an older sender", header: `"a \"b\" c"`, want: `a "b" c`},
		{name: "a stray percent is kept", header: "100%", want: "100%"},
		{name: "an overlong encoding is refused", header: "%C0%A0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeHeaderValue(tc.header)
			if tc.wantErr {
				if err == nil {
					t.Errorf("decodeHeaderValue(%q) = %q, want an error", tc.header, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeHeaderValue(%q) error = %v", tc.header, err)
			}
			if got != tc.want {
				t.Errorf("decodeHeaderValue(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	ev := event.New()
	ev.SetID("evt-1")
	ev.SetSource("/flywheel/round trip")
	ev.SetType("dev.flywheel.test")
	ev.SetSubject(`a "quoted" 100% € subject`)
	ev.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC))
	ev.SetDataSchema("https://example.com/schema")
	ev.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ev.SetExtension("partitionkey", "ünïcode key")
	if err := ev.SetData("application/json", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}

	msg, err := encodeBinary(&ev)
	if err != nil {
		t.Fatalf("encodeBinary() error = %v", err)
	}
	got, err := decodeBinary(msg.header, msg.body)
	if err != nil {
		t.Fatalf("decodeBinary() error = %v", err)
	}
	if diff := cmp.Diff(eventJSON(t, &ev), eventJSON(t, got)); diff != "" {
		t.Errorf("event after a binary round trip (-want, +got):\n%s", diff)
	}
}

func TestDecodeBinaryRefuses(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
	}{{
		name:   "no id",
		header: http.Header{"Ce-Specversion": {"1.0"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"}},
	}, {
		name:   "an unknown specversion",
		header: http.Header{"Ce-Specversion": {"9.9"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"}},
	}, {
		name:   "a time that is not RFC 3339",
		header: http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"}, "Ce-Time": {"yesterday"}},
	}, {
		name:   "an extension name that is not one",
		header: http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"}, "Ce-Not_valid": {"x"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ev, err := decodeBinary(tc.header, nil); err == nil {
				t.Errorf("decodeBinary() = %v, want an error", ev)
			}
		})
	}
}

// eventJSON is an event in structured JSON, decoded into a map so that a
// diff shows attributes rather than bytes.
func eventJSON(t *testing.T, ev *event.Event) map[string]any {
	t.Helper()
	if ev == nil {
		return nil
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("marshalling %v: %v", ev, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAReplyKeepsTheTraceOfItsResponse: a binary-mode reply without a
// trace context of its own takes its response's W3C traceparent, as an
// event posted to the ingress does.
func TestAReplyKeepsTheTraceOfItsResponse(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", "reply-1")
	h.Set("Ce-Source", "/app")
	h.Set("Ce-Type", "dev.flywheel.reply")
	h.Set("Traceparent", parent)
	ev, err := decodeBinary(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Extensions()["traceparent"]; got != parent {
		t.Errorf("the reply's traceparent extension = %v, want %s", got, parent)
	}
	enc, err := encodeBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	if enc.header.Get("Traceparent") != parent || enc.header.Get("Ce-Traceparent") != "" {
		t.Errorf("sent on with headers %v, want the W3C traceparent and no ce-traceparent", enc.header)
	}
}
