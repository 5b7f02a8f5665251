package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/eventing"
)

func TestTriggerDefaults(t *testing.T) {
	label := eventing.BrokerLabel.String()
	ref := func(name, namespace string) *duckv1.KReference {
		return &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: name, Namespace: namespace}
	}
	meta := func(labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "orders", Namespace: "shop", Labels: labels}
	}
	tests := []struct {
		name string
		in   Trigger
		want Trigger
	}{{
		name: "labelled with its Broker",
		in:   Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Broker: "default"}},
		want: Trigger{ObjectMeta: meta(map[string]string{label: "default"}), Spec: TriggerSpec{Broker: "default"}},
	}, {
		name: "other labels kept, a stale Broker label replaced",
		in:   Trigger{ObjectMeta: meta(map[string]string{"team": "shop", label: "old"}), Spec: TriggerSpec{Broker: "default"}},
		want: Trigger{ObjectMeta: meta(map[string]string{"team": "shop", label: "default"}), Spec: TriggerSpec{Broker: "default"}},
	}, {
		name: "nothing set without a Broker",
		in:   Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Subscriber: duckv1.Destination{Ref: ref("handler", "shop")}}},
		want: Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Subscriber: duckv1.Destination{Ref: ref("handler", "shop")}}},
	}, {
		name: "subscriber ref gets the Trigger's namespace",
		in:   Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Subscriber: duckv1.Destination{Ref: ref("handler", "")}}},
		want: Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Subscriber: duckv1.Destination{Ref: ref("handler", "shop")}}},
	}, {
		name: "subscriber ref keeps its namespace",
		in:   Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Subscriber: duckv1.Destination{Ref: ref("handler", "other")}}},
		want: Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{Subscriber: duckv1.Destination{Ref: ref("handler", "other")}}},
	}, {
		name: "dead-letter sink ref gets the Trigger's namespace",
		in: Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{
			Delivery: &DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: ref("dls", "")}},
		}},
		want: Trigger{ObjectMeta: meta(nil), Spec: TriggerSpec{
			Delivery: &DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: ref("dls", "shop")}},
		}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			got.SetDefaults(context.Background())
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("SetDefaults (-want, +got):\n%s", diff)
			}
		})
	}
}
