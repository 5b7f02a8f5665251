package v1

import (
	"context"
	"testing"

	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestBrokerValidation(t *testing.T) {
	config := func(name string) *duckv1.KReference {
		return &duckv1.KReference{APIVersion: "v1", Kind: "ConfigMap", Name: name}
	}
	withConfig := func(c *duckv1.KReference) *Broker { return &Broker{Spec: BrokerSpec{Config: c}} }
	tests := []struct {
		name string
		ctx  context.Context
		b    *Broker
		want []string
	}{{
		name: "empty",
		b:    &Broker{},
	}, {
		name: "with config",
		b:    withConfig(config("broker-config")),
	}, {
		name: "config without a name",
		b:    withConfig(config("")),
		want: []string{"missing field(s): spec.config.name"},
	}, {
		name: "delivery errors name spec.delivery",
		b:    &Broker{Spec: BrokerSpec{Delivery: &DeliverySpec{Retry: ptr.To[int32](-1)}}},
		want: []string{"spec.delivery.retry"},
	}, {
		name: "update keeping the config",
		ctx:  apis.WithinUpdate(context.Background(), withConfig(config("broker-config"))),
		b:    &Broker{Spec: BrokerSpec{Config: config("broker-config"), Delivery: &DeliverySpec{Retry: ptr.To[int32](5)}}},
	}, {
		name: "update changing the config",
		ctx:  apis.WithinUpdate(context.Background(), withConfig(config("broker-config"))),
		b:    withConfig(config("other-config")),
		want: []string{"spec.config cannot change: spec.config", "delete the Broker and create it again with the new config"},
	}, {
		name: "update adding a config",
		ctx:  apis.WithinUpdate(context.Background(), withConfig(nil)),
		b:    withConfig(config("broker-config")),
		want: []string{"spec.config cannot change: spec.config"},
	}, {
		name: "update removing the config",
		ctx:  apis.WithinUpdate(context.Background(), withConfig(config("broker-config"))),
		b:    withConfig(nil),
		want: []string{"spec.config cannot change: spec.config"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			checkErr(t, fieldErr(tc.b.Validate(ctx)), tc.want...)
		})
	}
}
