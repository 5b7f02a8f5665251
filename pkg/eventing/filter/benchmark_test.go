package filter

import (
	"testing"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// BenchmarkMatch measures Match for the Triggers a broker typically holds,
// against an event that carries every attribute.
func BenchmarkMatch(b *testing.B) {
	ev := testEvents(b)["order"]
	benchmarks := []struct {
		name    string
		attrs   *eventingv1.TriggerFilter
		filters []apiFilter
		want    bool
	}{{
		name:  "attributes type+source/match",
		attrs: attributes("type", "com.example.order.created", "source", "https://shop.example.com/orders"),
		want:  true,
	}, {
		name:  "attributes type+source/miss",
		attrs: attributes("type", "com.example.order.cancelled", "source", "https://shop.example.com/orders"),
	}, {
		name:    "exact+prefix+suffix",
		filters: []apiFilter{fExact("type", "com.example.order.created"), fPrefix("source", "https://shop."), fSuffix("subject", "-123")},
		want:    true,
	}, {
		name: "all/any/not",
		filters: []apiFilter{fAll(
			fAny(fExact("type", "com.example.order.cancelled"), fPrefix("type", "com.example.order.")),
			fNot(fExact("region", "us-east")),
		)},
		want: true,
	}, {
		name:    "time prefix",
		filters: []apiFilter{fPrefix("time", "2024-05-")},
		want:    true,
	}, {
		name:    "cesql",
		filters: []apiFilter{fCESQL("type = 'com.example.order.created' AND source LIKE 'https://shop.%'")},
		want:    true,
	}, {
		name:    "attributes type+source then cesql",
		attrs:   attributes("type", "com.example.order.created", "source", "https://shop.example.com/orders"),
		filters: []apiFilter{fCESQL("priority > 3")},
		want:    true,
	}}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			f, err := Compile(bm.attrs, bm.filters)
			if err != nil {
				b.Fatalf("Compile() = %v", err)
			}
			if got := f.Match(ev); got != bm.want {
				b.Fatalf("Match() = %t, want %t", got, bm.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				f.Match(ev)
			}
		})
	}
}

// BenchmarkCompile measures the work done once per Trigger.
func BenchmarkCompile(b *testing.B) {
	attrs := attributes("type", "com.example.order.created", "source", "https://shop.example.com/orders")
	filters := []apiFilter{fAny(fPrefix("subject", "order-"), fNot(fExact("region", "us-east"))), fCESQL("priority > 3")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(attrs, filters); err != nil {
			b.Fatal(err)
		}
	}
}
