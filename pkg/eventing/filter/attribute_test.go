package filter

import (
	"net/url"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/google/go-cmp/cmp"
)

type lookupResult struct {
	Value   string
	Present bool
}

func lookupString(t *testing.T, ev *event.Event, name string) lookupResult {
	t.Helper()
	a, err := newAttribute(name)
	if err != nil {
		t.Fatalf("newAttribute(%q) = %v", name, err)
	}
	var buf [40]byte
	txt, ok := a.lookup(ev, buf[:0])
	return lookupResult{Value: txt.String(), Present: ok}
}

func TestLookup(t *testing.T) {
	events := testEvents(t)
	tests := []struct {
		event string
		attr  string
		want  lookupResult
	}{
		{"order", "specversion", lookupResult{"1.0", true}},
		{"legacy", "specversion", lookupResult{"0.3", true}},
		{"order", "id", lookupResult{"id-1", true}},
		{"order", "source", lookupResult{"https://shop.example.com/orders", true}},
		{"payment", "source", lookupResult{"/payments", true}},
		{"legacy", "source", lookupResult{"https://shop.example.com/orders", true}},
		{"order", "type", lookupResult{"com.example.order.created", true}},
		{"order", "subject", lookupResult{"order-123", true}},
		{"payment", "subject", lookupResult{}},
		{"order", "datacontenttype", lookupResult{"application/json", true}},
		{"payment", "datacontenttype", lookupResult{}},
		{"order", "dataschema", lookupResult{"https://schemas.example.com/order.json", true}},
		{"payment", "dataschema", lookupResult{}},
		{"order", "time", lookupResult{"2024-05-01T12:00:00.5Z", true}},
		{"payment", "time", lookupResult{}},
		{"order", "region", lookupResult{"eu-west", true}},
		{"legacy", "region", lookupResult{"us-east", true}},
		{"order", "priority", lookupResult{"5", true}},
		{"order", "urgent", lookupResult{"true", true}},
		{"order", "empty", lookupResult{"", true}},
		{"order", "callback", lookupResult{"https://hooks.example.com/done", true}},
		{"payment", "region", lookupResult{}},
		{"legacy", "color", lookupResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.attr, func(t *testing.T) {
			got := lookupString(t, events[tt.event], tt.attr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lookup (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestLookupAgreesWithSDK holds every value's string form to the SDK's
// types.Format, including values of types the SDK's own events never store.
func TestLookupAgreesWithSDK(t *testing.T) {
	ev := testEvents(t)["order"]
	values := map[string]any{
		"bin":     []byte{0, 1, 2, 250},
		"neg":     int32(-2147483648),
		"no":      false,
		"uri":     types.URI{URL: url.URL{Scheme: "https", Host: "h.example", Path: "/a b", RawQuery: "q=1"}},
		"ref":     types.URIRef{URL: url.URL{Path: "a:b/c"}},
		"stamp":   types.Timestamp{Time: orderTime.AddDate(10000, 0, 0)},
		"uriptr":  &types.URI{URL: url.URL{Scheme: "urn", Opaque: "x:y"}},
		"refptr":  &types.URIRef{URL: url.URL{Host: "only.host"}},
		"zero":    types.Timestamp{},
		"nothing": nil,
	}
	for name, v := range values {
		ev.Context.(*event.EventContextV1).Extensions[name] = v
	}
	names := []string{"specversion", "id", "source", "type", "subject", "datacontenttype", "dataschema", "time"}
	for name := range ev.Extensions() {
		names = append(names, name)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var want lookupResult
			switch name {
			case "specversion", "id", "source", "type", "subject", "datacontenttype", "dataschema":
				v, err := ev.Context.GetExtension(name)
				if err == nil {
					t.Fatalf("%q is both a context attribute and an extension: %v", name, v)
				}
				want = contextString(ev, name)
			case "time":
				want = lookupResult{types.FormatTime(ev.Time()), true}
			default:
				v := ev.Extensions()[name]
				if v != nil {
					s, err := types.Format(v)
					want = lookupResult{s, err == nil}
				}
			}
			if diff := cmp.Diff(want, lookupString(t, ev, name)); diff != "" {
				t.Errorf("lookup (-types.Format, +got):\n%s", diff)
			}
		})
	}
}

func contextString(ev *event.Event, name string) lookupResult {
	s := map[string]string{
		"specversion":     ev.SpecVersion(),
		"id":              ev.ID(),
		"source":          ev.Source(),
		"type":            ev.Type(),
		"subject":         ev.Subject(),
		"datacontenttype": ev.DataContentType(),
		"dataschema":      ev.DataSchema(),
	}[name]
	return lookupResult{s, s != ""}
}

// otherContext is an EventContext of no SDK spec version, read through the
// getters alone.
type otherContext struct {
	*event.EventContextV1
}

func TestLookupOtherContext(t *testing.T) {
	v1 := testEvents(t)["order"].Context.(*event.EventContextV1)
	ev := &event.Event{Context: otherContext{v1}}
	for _, name := range []string{"id", "source", "subject", "dataschema", "time", "region", "priority", "color"} {
		t.Run(name, func(t *testing.T) {
			want := lookupString(t, &event.Event{Context: v1}, name)
			if diff := cmp.Diff(want, lookupString(t, ev, name)); diff != "" {
				t.Errorf("lookup (-EventContextV1, +other):\n%s", diff)
			}
		})
	}
}

var urlSeeds = []string{
	"https://shop.example.com/orders",
	"https://shop.example.com",
	"https://shop.example.com:8443/a/b",
	"http://[::1]:80/x",
	"/payments",
	"payments",
	"order-service",
	"a:b",
	"./a:b/c",
	"urn:example:order",
	"mailto:someone@example.com",
	"https://user:pw@example.com/",
	"https://example.com/a%20b",
	"https://example.com/a%2Fb",
	"https://example.com/a?q=1#frag",
	"https://example.com/?",
	"https://EXAMPLE.com/%7Euser",
	"//host.only/path",
	"scheme:/path",
	"scheme:path",
	"https://ex_ample.com/ü",
	"*",
	"",
	"https://example.com/a*b(c)",
	"https://example.com/@/:/~",
}

// FuzzURLText holds the pieces urlText keeps, and the comparisons on them,
// to url.URL.String and the strings package.
func FuzzURLText(f *testing.F) {
	for _, s := range urlSeeds {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, raw string, cut int) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		want := u.String()
		txt := urlText(u)
		if got := txt.String(); got != want {
			t.Fatalf("urlText(%q) = %q, want %q", raw, got, want)
		}
		checkText(t, txt, want, cut)
	})
}

// FuzzRawText holds the comparisons on formatted bytes to the strings
// package.
func FuzzRawText(f *testing.F) {
	f.Add("2024-05-01T12:00:00.5Z", 11)
	f.Add("-2147483648", 0)
	f.Fuzz(func(t *testing.T, s string, cut int) {
		checkText(t, text{raw: []byte(s), isRaw: true}, s, cut)
	})
}

func checkText(t *testing.T, txt text, s string, cut int) {
	t.Helper()
	if cut < 0 {
		cut = -cut
	}
	cut %= len(s) + 1
	for _, want := range []string{s, s[:cut], s[cut:], s[:cut] + "x", "x" + s[cut:], s + "x", "x" + s, ""} {
		if got := txt.equal(want); got != (s == want) {
			t.Errorf("%q equal(%q) = %t", s, want, got)
		}
		if got := txt.hasPrefix(want); got != strings.HasPrefix(s, want) {
			t.Errorf("%q hasPrefix(%q) = %t", s, want, got)
		}
		if got := txt.hasSuffix(want); got != strings.HasSuffix(s, want) {
			t.Errorf("%q hasSuffix(%q) = %t", s, want, got)
		}
	}
}
