package v1

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/eventing"
)

// validTrigger returns a valid Trigger for rows to change.
func validTrigger() *Trigger {
	return &Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"},
		Spec: TriggerSpec{
			Broker:     "default",
			Subscriber: duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "handler"}},
		},
	}
}

func TestTriggerValidation(t *testing.T) {
	order := eventing.DeliveryOrderAnnotation.String()
	tests := []struct {
		name   string
		change func(*Trigger)
		want   []string
	}{{
		name:   "valid",
		change: func(*Trigger) {},
	}, {
		name:   "missing broker",
		change: func(tr *Trigger) { tr.Spec.Broker = "" },
		want:   []string{"missing field(s): spec.broker"},
	}, {
		name:   "missing subscriber",
		change: func(tr *Trigger) { tr.Spec.Subscriber = duckv1.Destination{} },
		want:   []string{"expected at least one, got none: spec.subscriber.ref, spec.subscriber.uri"},
	}, {
		name: "subscriber by URI",
		change: func(tr *Trigger) {
			tr.Spec.Subscriber = duckv1.Destination{URI: apis.HTTP("handler.shop.svc.cluster.local")}
		},
	}, {
		name: "filter attributes, an empty value matching any",
		change: func(tr *Trigger) {
			tr.Spec.Filter = &TriggerFilter{Attributes: TriggerFilterAttributes{"type": "com.example.order", "myext1": ""}}
		},
	}, {
		name:   "filter attribute in upper case",
		change: func(tr *Trigger) { tr.Spec.Filter = &TriggerFilter{Attributes: TriggerFilterAttributes{"Type": "x"}} },
		want: []string{`invalid key name "Type": spec.filter.attributes[Type]`,
			"CloudEvents attribute names hold only lower-case letters and digits"},
	}, {
		name:   "empty filter attribute name",
		change: func(tr *Trigger) { tr.Spec.Filter = &TriggerFilter{Attributes: TriggerFilterAttributes{"": "x"}} },
		want:   []string{`invalid key name "": spec.filter.attributes[]`, "an attribute name cannot be empty"},
	}, {
		name:   "filter attribute with a dash",
		change: func(tr *Trigger) { tr.Spec.Filter = &TriggerFilter{Attributes: TriggerFilterAttributes{"my-ext": "x"}} },
		want: []string{`invalid key name "my-ext": spec.filter.attributes[my-ext]`,
			"CloudEvents attribute names hold only lower-case letters and digits"},
	}, {
		name: "one filter of each dialect",
		change: func(tr *Trigger) {
			tr.Spec.Filters = []SubscriptionsAPIFilter{
				{Exact: map[string]string{"type": "com.example.order"}},
				{Exact: map[string]string{"subject": ""}},
				{Prefix: map[string]string{"source": "/shop/"}},
				{Suffix: map[string]string{"subject": ".json"}},
				{All: []SubscriptionsAPIFilter{{Exact: map[string]string{"type": "a"}}, {CESQL: "source LIKE '/shop/%'"}}},
				{Any: []SubscriptionsAPIFilter{{Prefix: map[string]string{"type": "com."}}}},
				{Not: &SubscriptionsAPIFilter{Suffix: map[string]string{"type": ".test"}}},
				{CESQL: "type = 'com.example.order' AND source LIKE '/shop/%'"},
			}
		},
	}, {
		name:   "filter with no dialect",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{}} },
		want:   []string{"a filter needs one dialect: spec.filters[0]", "set one of exact, prefix, suffix, all, any, not, cesql"},
	}, {
		name: "filter with two dialects",
		change: func(tr *Trigger) {
			tr.Spec.Filters = []SubscriptionsAPIFilter{{Exact: map[string]string{"type": "a"}}, {
				Exact: map[string]string{"type": "a"},
				CESQL: "source = 'b'",
			}}
		},
		want: []string{"a filter holds one dialect, got exact, cesql", "spec.filters[1].exact", "spec.filters[1].cesql",
			"split them into several filters, which must all match"},
	}, {
		name: "exact with two attributes",
		change: func(tr *Trigger) {
			tr.Spec.Filters = []SubscriptionsAPIFilter{{Exact: map[string]string{"type": "a", "source": "b"}}}
		},
		want: []string{"exact must name exactly one attribute, got 2: spec.filters[0].exact",
			"put each attribute in its own filter, inside all: when every one must match"},
	}, {
		name:   "exact with an upper-case attribute",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{Exact: map[string]string{"Type": "a"}}} },
		want:   []string{`invalid key name "Type": spec.filters[0].exact`},
	}, {
		name:   "prefix with an empty value",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{Prefix: map[string]string{"type": ""}}} },
		want:   []string{"prefix needs a value: spec.filters[0].prefix.type"},
	}, {
		name:   "suffix with an empty value",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{Suffix: map[string]string{"type": ""}}} },
		want:   []string{"suffix needs a value: spec.filters[0].suffix.type"},
	}, {
		name: "malformed CESQL inside all",
		change: func(tr *Trigger) {
			tr.Spec.Filters = []SubscriptionsAPIFilter{{All: []SubscriptionsAPIFilter{
				{Exact: map[string]string{"type": "a"}},
				{CESQL: "type = "},
			}}}
		},
		want: []string{`invalid CESQL expression "type = "`, "spec.filters[0].all[1].cesql",
			"see the CloudEvents SQL specification"},
	}, {
		name: "empty filter inside any",
		change: func(tr *Trigger) {
			tr.Spec.Filters = []SubscriptionsAPIFilter{{Any: []SubscriptionsAPIFilter{{}}}}
		},
		want: []string{"a filter needs one dialect: spec.filters[0].any[0]"},
	}, {
		name: "error inside not inside all",
		change: func(tr *Trigger) {
			tr.Spec.Filters = []SubscriptionsAPIFilter{
				{Exact: map[string]string{"type": "a"}},
				{Not: &SubscriptionsAPIFilter{All: []SubscriptionsAPIFilter{{Prefix: map[string]string{"source": ""}}}}},
			}
		},
		want: []string{"prefix needs a value: spec.filters[1].not.all[0].prefix.source"},
	}, {
		name:   "CESQL syntax error",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{CESQL: "AND"}} },
		want:   []string{`invalid CESQL expression "AND"`, "spec.filters[0].cesql"},
	}, {
		// The parser panics on these; the webhook must refuse them all
		// the same.
		name:   "CESQL missing an operand",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{CESQL: "type = 'a' AND"}} },
		want:   []string{`invalid CESQL expression "type = 'a' AND"`, "spec.filters[0].cesql"},
	}, {
		name:   "CESQL with a trailing word",
		change: func(tr *Trigger) { tr.Spec.Filters = []SubscriptionsAPIFilter{{CESQL: "type = 'a' type"}} },
		want:   []string{`invalid CESQL expression "type = 'a' type"`, "spec.filters[0].cesql"},
	}, {
		name:   "delivery errors name spec.delivery",
		change: func(tr *Trigger) { tr.Spec.Delivery = &DeliverySpec{BackoffDelay: ptr.To("1s")} },
		want:   []string{"spec.delivery.backoffDelay"},
	}, {
		name:   "ordered delivery",
		change: func(tr *Trigger) { tr.Annotations = map[string]string{order: eventing.DeliveryOrderOrdered} },
	}, {
		name:   "unordered delivery",
		change: func(tr *Trigger) { tr.Annotations = map[string]string{order: eventing.DeliveryOrderUnordered} },
	}, {
		name:   "unknown delivery order",
		change: func(tr *Trigger) { tr.Annotations = map[string]string{order: "fifo"} },
		want:   []string{`invalid value "fifo": metadata.annotations[flywheel.dev/delivery-order]`, "use ordered or unordered"},
	}, {
		name:   "empty delivery order",
		change: func(tr *Trigger) { tr.Annotations = map[string]string{order: ""} },
		want:   []string{`invalid value "": metadata.annotations[flywheel.dev/delivery-order]`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := validTrigger()
			tc.change(tr)
			checkErr(t, fieldErr(tr.Validate(context.Background())), tc.want...)
		})
	}
}

func TestTriggerUpdateValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Trigger)
		want   []string
	}{{
		name:   "same broker, another subscriber",
		change: func(tr *Trigger) { tr.Spec.Subscriber.Ref.Name = "other-handler" },
	}, {
		name:   "another broker",
		change: func(tr *Trigger) { tr.Spec.Broker = "other" },
		want:   []string{`spec.broker cannot change (from "default" to "other"): spec.broker`, "create a new Trigger for the other Broker"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := validTrigger()
			tc.change(tr)
			ctx := apis.WithinUpdate(context.Background(), validTrigger())
			checkErr(t, fieldErr(tr.Validate(ctx)), tc.want...)
		})
	}
}
