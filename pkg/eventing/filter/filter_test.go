package filter

import (
	"slices"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

type apiFilter = eventingv1.SubscriptionsAPIFilter

func fExact(name, value string) apiFilter {
	return apiFilter{Exact: map[string]string{name: value}}
}

func fPrefix(name, value string) apiFilter {
	return apiFilter{Prefix: map[string]string{name: value}}
}

func fSuffix(name, value string) apiFilter {
	return apiFilter{Suffix: map[string]string{name: value}}
}

// fAll and fAny keep an empty list non-nil, as decoding "all: []" does.
func fAll(fs ...apiFilter) apiFilter { return apiFilter{All: append([]apiFilter{}, fs...)} }

func fAny(fs ...apiFilter) apiFilter { return apiFilter{Any: append([]apiFilter{}, fs...)} }

func fNot(f apiFilter) apiFilter { return apiFilter{Not: &f} }

func fCESQL(expr string) apiFilter { return apiFilter{CESQL: expr} }

func attributes(kv ...string) *eventingv1.TriggerFilter {
	f := &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Attributes[kv[i]] = kv[i+1]
	}
	return f
}

// everyEvent names all of testEvents, sorted.
var everyEvent = []string{"legacy", "order", "payment"}

func TestMatch(t *testing.T) {
	events := testEvents(t)
	tests := []struct {
		name    string
		attrs   *eventingv1.TriggerFilter
		filters []apiFilter
		// want names the events of testEvents that match, sorted.
		want []string
	}{{
		name: "no filter matches everything",
		want: everyEvent,
	}, {
		name:  "empty attribute filter matches everything",
		attrs: attributes(),
		want:  everyEvent,
	}, {
		name:    "empty filters list matches everything",
		filters: []apiFilter{},
		want:    everyEvent,
	},

		// The attribute filter.
		{
			name:  "attribute type",
			attrs: attributes("type", "com.example.order.created"),
			want:  []string{"legacy", "order"},
		}, {
			name:  "attributes type and source",
			attrs: attributes("type", "com.example.order.created", "source", "https://shop.example.com/orders"),
			want:  []string{"legacy", "order"},
		}, {
			name:  "attributes must all match",
			attrs: attributes("type", "com.example.order.created", "subject", "order-123"),
			want:  []string{"order"},
		}, {
			name:  "attribute value is case-sensitive",
			attrs: attributes("type", "COM.EXAMPLE.ORDER.CREATED"),
		}, {
			name:  "attribute value must be whole",
			attrs: attributes("type", "com.example.order"),
		}, {
			name:  "empty attribute value matches any value of a required attribute",
			attrs: attributes("type", ""),
			want:  everyEvent,
		}, {
			name:  "empty attribute value needs the optional attribute",
			attrs: attributes("subject", ""),
			want:  []string{"legacy", "order"},
		}, {
			name:  "empty attribute value needs the extension",
			attrs: attributes("region", ""),
			want:  []string{"legacy", "order"},
		}, {
			name:  "empty attribute value matches an extension that is empty",
			attrs: attributes("empty", ""),
			want:  []string{"order"},
		}, {
			name:  "attribute of an unknown extension matches nothing",
			attrs: attributes("color", "red"),
		}, {
			name:  "attribute string extension",
			attrs: attributes("region", "eu-west"),
			want:  []string{"order"},
		}, {
			name:  "attribute integer extension in decimal",
			attrs: attributes("priority", "5"),
			want:  []string{"order"},
		}, {
			name:  "attribute boolean extension",
			attrs: attributes("urgent", "true"),
			want:  []string{"order"},
		}, {
			name:  "attribute time in UTC with fraction",
			attrs: attributes("time", "2024-05-01T12:00:00.5Z"),
			want:  []string{"order"},
		}, {
			name:  "attribute time in another zone does not match",
			attrs: attributes("time", "2024-05-01T14:00:00.5+02:00"),
		}, {
			name:  "attribute specversion",
			attrs: attributes("specversion", "0.3"),
			want:  []string{"legacy"},
		}, {
			name:  "attributes datacontenttype and dataschema",
			attrs: attributes("datacontenttype", "application/json", "dataschema", "https://schemas.example.com/order.json"),
			want:  []string{"order"},
		},

		// exact.
		{
			name:    "exact type",
			filters: []apiFilter{fExact("type", "com.example.order.created")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "exact relative source",
			filters: []apiFilter{fExact("source", "/payments")},
			want:    []string{"payment"},
		}, {
			name:    "exact id",
			filters: []apiFilter{fExact("id", "id-1")},
			want:    everyEvent,
		}, {
			name:    "exact is case-sensitive",
			filters: []apiFilter{fExact("source", "HTTPS://shop.example.com/orders")},
		}, {
			name:    "exact on an attribute some events lack",
			filters: []apiFilter{fExact("subject", "order-123")},
			want:    []string{"order"},
		}, {
			name:    "exact on a missing extension",
			filters: []apiFilter{fExact("color", "red")},
		}, {
			name:    "exact with the empty value needs the attribute",
			filters: []apiFilter{fExact("region", "")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "exact on a URI extension",
			filters: []apiFilter{fExact("callback", "https://hooks.example.com/done")},
			want:    []string{"order"},
		},

		// prefix.
		{
			name:    "prefix type",
			filters: []apiFilter{fPrefix("type", "com.example.order.")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "prefix source across scheme and host",
			filters: []apiFilter{fPrefix("source", "https://shop.")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "prefix equal to the whole value",
			filters: []apiFilter{fPrefix("source", "https://shop.example.com/orders")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "prefix longer than the value",
			filters: []apiFilter{fPrefix("source", "https://shop.example.com/orders/1")},
		}, {
			name:    "prefix on an attribute some events lack",
			filters: []apiFilter{fPrefix("subject", "order-")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "prefix time",
			filters: []apiFilter{fPrefix("time", "2024-05-01T")},
			want:    []string{"order"},
		}, {
			name:    "prefix integer extension",
			filters: []apiFilter{fPrefix("priority", "5")},
			want:    []string{"order"},
		}, {
			name:    "prefix URI extension",
			filters: []apiFilter{fPrefix("callback", "https://hooks.")},
			want:    []string{"order"},
		}, {
			name:    "prefix on a missing extension",
			filters: []apiFilter{fPrefix("color", "r")},
		},

		// suffix.
		{
			name:    "suffix type",
			filters: []apiFilter{fSuffix("type", ".created")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "suffix source",
			filters: []apiFilter{fSuffix("source", "example.com/orders")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "suffix longer than the value",
			filters: []apiFilter{fSuffix("source", "x/payments")},
		}, {
			name:    "suffix time",
			filters: []apiFilter{fSuffix("time", ":00.5Z")},
			want:    []string{"order"},
		}, {
			name:    "suffix dataschema",
			filters: []apiFilter{fSuffix("dataschema", ".json")},
			want:    []string{"order"},
		}, {
			name:    "suffix extension",
			filters: []apiFilter{fSuffix("region", "-east")},
			want:    []string{"legacy"},
		},

		// all, any, not.
		{
			name:    "all needs every nested filter",
			filters: []apiFilter{fAll(fExact("type", "com.example.order.created"), fPrefix("subject", "order-1"))},
			want:    []string{"order"},
		}, {
			name:    "empty all matches everything",
			filters: []apiFilter{fAll()},
			want:    everyEvent,
		}, {
			name:    "any needs one nested filter",
			filters: []apiFilter{fAny(fExact("region", "eu-west"), fExact("source", "/payments"))},
			want:    []string{"order", "payment"},
		}, {
			name:    "empty any matches nothing",
			filters: []apiFilter{fAny()},
		}, {
			name:    "not inverts",
			filters: []apiFilter{fNot(fExact("type", "com.example.order.created"))},
			want:    []string{"payment"},
		}, {
			name:    "not of a missing attribute matches",
			filters: []apiFilter{fNot(fExact("color", "red"))},
			want:    everyEvent,
		}, {
			name:    "not of not",
			filters: []apiFilter{fNot(fNot(fSuffix("region", "-east")))},
			want:    []string{"legacy"},
		}, {
			name:    "not of empty any matches everything",
			filters: []apiFilter{fNot(fAny())},
			want:    everyEvent,
		}, {
			name:    "not of empty all matches nothing",
			filters: []apiFilter{fNot(fAll())},
		}, {
			name: "nesting",
			filters: []apiFilter{fAll(
				fAny(fPrefix("type", "com.example.order."), fSuffix("type", ".settled")),
				fNot(fExact("region", "us-east")),
				fAll(fAny(fAll(fPrefix("source", "/")), fPrefix("source", "https://"))),
			)},
			want: []string{"order", "payment"},
		},

		// cesql.
		{
			name:    "cesql true",
			filters: []apiFilter{fCESQL("type = 'com.example.order.created' AND source LIKE 'https://shop.%'")},
			want:    []string{"legacy", "order"},
		}, {
			name:    "cesql false",
			filters: []apiFilter{fCESQL("type = 'com.example.nothing'")},
		}, {
			name:    "cesql on an integer extension",
			filters: []apiFilter{fCESQL("priority > 3")},
			want:    []string{"order"},
		}, {
			name:    "cesql string 'true' is not boolean true",
			filters: []apiFilter{fCESQL("'true'")},
		}, {
			name:    "cesql integer is not boolean true",
			filters: []apiFilter{fCESQL("1")},
		}, {
			name:    "cesql extension value is not boolean true",
			filters: []apiFilter{fCESQL("region")},
		}, {
			name:    "cesql missing attribute is an error, no match",
			filters: []apiFilter{fCESQL("region = 'us-east'")},
			want:    []string{"legacy"},
		}, {
			name:    "cesql division by zero is an error, no match",
			filters: []apiFilter{fCESQL("priority / 0 = 1")},
		}, {
			name:    "cesql unknown function is an error, no match",
			filters: []apiFilter{fCESQL("NOSUCHFUNCTION(type)")},
		}, {
			name:    "cesql error under not matches",
			filters: []apiFilter{fNot(fCESQL("color = 'red'"))},
			want:    everyEvent,
		}, {
			name:    "cesql EXISTS",
			filters: []apiFilter{fCESQL("EXISTS subject")},
			want:    []string{"legacy", "order"},
		},

		// The attribute filter AND the filters list.
		{
			name:    "attribute filter and filters both match",
			attrs:   attributes("type", "com.example.order.created"),
			filters: []apiFilter{fExact("subject", "order-123")},
			want:    []string{"order"},
		}, {
			name:    "attribute filter matches, filters do not",
			attrs:   attributes("type", "com.example.order.created"),
			filters: []apiFilter{fExact("type", "com.example.payment.settled")},
		}, {
			name:    "filters match, attribute filter does not",
			attrs:   attributes("region", "eu-west"),
			filters: []apiFilter{fPrefix("source", "https://")},
			want:    []string{"order"},
		}, {
			name:    "every entry of filters must match",
			filters: []apiFilter{fPrefix("type", "com.example."), fSuffix("type", ".created"), fNot(fExact("region", "us-east"))},
			want:    []string{"order"},
		}, {
			name:    "empty attribute filter and filters",
			attrs:   attributes(),
			filters: []apiFilter{fCESQL("source = '/payments'")},
			want:    []string{"payment"},
		}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.attrs, tt.filters)
			if err != nil {
				t.Fatalf("Compile() = %v", err)
			}
			var got []string
			for name, ev := range events {
				if f.Match(ev) {
					got = append(got, name)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Matching events (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestMatchEventWithoutContext(t *testing.T) {
	tests := []struct {
		name    string
		attrs   *eventingv1.TriggerFilter
		filters []apiFilter
		want    bool
	}{{
		name: "no filter",
		want: true,
	}, {
		name:  "attribute",
		attrs: attributes("type", ""),
	}, {
		name:    "not of an attribute",
		filters: []apiFilter{fNot(fExact("type", "t"))},
		want:    true,
	}, {
		name:    "cesql",
		filters: []apiFilter{fCESQL("true")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.attrs, tt.filters)
			if err != nil {
				t.Fatalf("Compile() = %v", err)
			}
			for _, ev := range []*event.Event{nil, {}} {
				if got := f.Match(ev); got != tt.want {
					t.Errorf("Match(%v) = %t, want %t", ev, got, tt.want)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		attrs   *eventingv1.TriggerFilter
		filters []apiFilter
		// want is the start of the error.
		want string
	}{{
		name:  "attribute name not lower-case",
		attrs: attributes("Type", "x"),
		want:  "filter.attributes[Type]: CloudEvents attribute names hold only lower-case letters and digits",
	}, {
		name:  "attribute name empty",
		attrs: attributes("", "x"),
		want:  "filter.attributes[]: an attribute name cannot be empty",
	}, {
		name:    "no dialect",
		filters: []apiFilter{{}},
		want:    "filters[0]: a filter needs one dialect",
	}, {
		name:    "two dialects",
		filters: []apiFilter{fExact("type", "x"), {Exact: map[string]string{"type": "x"}, CESQL: "true"}},
		want:    "filters[1]: a filter holds one dialect, got [exact cesql]",
	}, {
		name:    "exact with two attributes",
		filters: []apiFilter{{Exact: map[string]string{"type": "x", "source": "y"}}},
		want:    "filters[0].exact: must name exactly one attribute, got 2",
	}, {
		name:    "prefix with no attribute",
		filters: []apiFilter{{Prefix: map[string]string{}}},
		want:    "filters[0].prefix: must name exactly one attribute, got 0",
	}, {
		name:    "prefix without a value",
		filters: []apiFilter{fPrefix("type", "")},
		want:    "filters[0].prefix[type]: needs a value",
	}, {
		name:    "suffix without a value",
		filters: []apiFilter{fSuffix("type", "")},
		want:    "filters[0].suffix[type]: needs a value",
	}, {
		name:    "suffix attribute name not lower-case",
		filters: []apiFilter{fSuffix("Type", "x")},
		want:    "filters[0].suffix[Type]: CloudEvents attribute names",
	}, {
		name:    "nested filter without a dialect",
		filters: []apiFilter{fAll(fExact("type", "x"), fAny(fNot(apiFilter{})))},
		want:    "filters[0].all[1].any[0].not: a filter needs one dialect",
	}, {
		name:    "malformed cesql",
		filters: []apiFilter{fCESQL("type = ")},
		want:    `filters[0].cesql: parsing CESQL expression "type = "`,
	}, {
		name:    "malformed nested cesql",
		filters: []apiFilter{fExact("type", "x"), fAny(fNot(fCESQL("type LIKE")))},
		want:    `filters[1].any[0].not.cesql: parsing CESQL expression "type LIKE"`,
	}, {
		name:    "cesql of unbalanced parentheses",
		filters: []apiFilter{fCESQL(")))")},
		want:    `filters[0].cesql: parsing CESQL expression ")))"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.attrs, tt.filters)
			if err == nil {
				t.Fatalf("Compile() = %v, nil; want error %q", f, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Compile() error = %q, want it to start with %q", err, tt.want)
			}
			if f != nil {
				t.Errorf("Compile() = %v, want nil Filter with the error", f)
			}
		})
	}
}

// TestMatchDoesNotAllocate holds the dispatcher's hot path to no allocation
// for the attribute dialects, whatever kind of value they read.
func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ev := testEvents(t)["order"]
	tests := []struct {
		name    string
		attrs   *eventingv1.TriggerFilter
		filters []apiFilter
	}{{
		name:  "attributes type and source",
		attrs: attributes("type", "com.example.order.created", "source", "https://shop.example.com/orders"),
	}, {
		name:  "attributes any value",
		attrs: attributes("subject", "", "region", ""),
	}, {
		name:    "exact dataschema",
		filters: []apiFilter{fExact("dataschema", "https://schemas.example.com/order.json")},
	}, {
		name:    "prefix time",
		filters: []apiFilter{fPrefix("time", "2024-05-01T")},
	}, {
		name:    "suffix integer extension",
		filters: []apiFilter{fSuffix("priority", "5")},
	}, {
		name:    "exact boolean extension",
		filters: []apiFilter{fExact("urgent", "true")},
	}, {
		name:    "prefix URI extension",
		filters: []apiFilter{fPrefix("callback", "https://hooks.")},
	}, {
		name:    "missing extension",
		filters: []apiFilter{fNot(fExact("color", "red"))},
	}, {
		name:    "nested",
		filters: []apiFilter{fAny(fAll(fPrefix("type", "com.example."), fNot(fSuffix("source", "/x"))), fExact("id", "2"))},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.attrs, tt.filters)
			if err != nil {
				t.Fatalf("Compile() = %v", err)
			}
			if !f.Match(ev) {
				t.Fatal("Match() = false, want a filter that matches")
			}
			if got := testing.AllocsPerRun(100, func() { f.Match(ev) }); got != 0 {
				t.Errorf("Match() allocates %v times, want 0", got)
			}
		})
	}
}
