package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"flywheel.dev/pkg/apis/eventing"
)

func TestBrokerDefaults(t *testing.T) {
	class := eventing.BrokerClassAnnotation.String()
	dls := func(namespace string) *DeliverySpec {
		return &DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{
			APIVersion: "v1", Kind: "Service", Name: "dls", Namespace: namespace,
		}}}
	}
	tests := []struct {
		name string
		in   Broker
		want Broker
	}{{
		name: "no annotations: Flywheel's class",
		in:   Broker{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"}},
		want: Broker{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns", Annotations: map[string]string{class: eventing.BrokerClass}}},
	}, {
		name: "other annotations are kept beside the class",
		in:   Broker{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"team": "shop"}}},
		want: Broker{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"team": "shop", class: eventing.BrokerClass}}},
	}, {
		name: "a class the user chose is kept",
		in:   Broker{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{class: "MTChannelBasedBroker"}}},
		want: Broker{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{class: "MTChannelBasedBroker"}}},
	}, {
		name: "dead-letter sink ref gets the Broker's namespace",
		in:   Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: BrokerSpec{Delivery: dls("")}},
		want: Broker{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Annotations: map[string]string{class: eventing.BrokerClass}},
			Spec:       BrokerSpec{Delivery: dls("ns")},
		},
	}, {
		name: "dead-letter sink ref keeps its namespace",
		in:   Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: BrokerSpec{Delivery: dls("other")}},
		want: Broker{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Annotations: map[string]string{class: eventing.BrokerClass}},
			Spec:       BrokerSpec{Delivery: dls("other")},
		},
	}, {
		name: "delivery without a dead-letter sink is left alone",
		in:   Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}, Spec: BrokerSpec{Delivery: &DeliverySpec{}}},
		want: Broker{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Annotations: map[string]string{class: eventing.BrokerClass}},
			Spec:       BrokerSpec{Delivery: &DeliverySpec{}},
		},
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
