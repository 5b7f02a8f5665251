package v1

import (
	"context"
	"testing"

	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestDeliverySpecValidation(t *testing.T) {
	sink := &duckv1.Destination{URI: apis.HTTP("dead-letters.default.svc.cluster.local")}
	policy := func(p BackoffPolicyType) *BackoffPolicyType { return &p }
	tests := []struct {
		name string
		spec *DeliverySpec
		want []string
	}{{
		name: "none",
	}, {
		name: "every field set",
		spec: &DeliverySpec{
			DeadLetterSink: sink,
			Retry:          ptr.To[int32](3),
			Timeout:        ptr.To("PT10S"),
			BackoffPolicy:  policy(BackoffPolicyExponential),
			BackoffDelay:   ptr.To("PT0.2S"),
		},
	}, {
		name: "linear backoff, no retries",
		spec: &DeliverySpec{Retry: ptr.To[int32](0), BackoffPolicy: policy(BackoffPolicyLinear)},
	}, {
		name: "dead-letter sink by ref",
		spec: &DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "dls"}}},
	}, {
		name: "negative retry",
		spec: &DeliverySpec{Retry: ptr.To[int32](-1)},
		want: []string{"retry must not be negative, got -1: spec.delivery.retry", "set it to the number of retries after the first attempt"},
	}, {
		name: "timeout in Go syntax",
		spec: &DeliverySpec{Timeout: ptr.To("10s")},
		want: []string{`"10s" is not an ISO 8601 duration`, "spec.delivery.timeout", "write an ISO 8601 duration such as PT10S"},
	}, {
		name: "zero timeout",
		spec: &DeliverySpec{Timeout: ptr.To("PT0S")},
		want: []string{`timeout must be longer than zero, got "PT0S": spec.delivery.timeout`, "such as PT10S"},
	}, {
		name: "backoff delay without a unit",
		spec: &DeliverySpec{BackoffDelay: ptr.To("PT0.2")},
		want: []string{"each number needs a unit of HMS", "spec.delivery.backoffDelay", "write an ISO 8601 duration such as PT0.2S"},
	}, {
		name: "zero backoff delay",
		spec: &DeliverySpec{BackoffDelay: ptr.To("P0D")},
		want: []string{`backoffDelay must be longer than zero, got "P0D": spec.delivery.backoffDelay`},
	}, {
		name: "unknown backoff policy",
		spec: &DeliverySpec{BackoffPolicy: policy("random")},
		want: []string{`invalid value "random": spec.delivery.backoffPolicy`, "use linear or exponential"},
	}, {
		name: "dead-letter sink with neither ref nor uri",
		spec: &DeliverySpec{DeadLetterSink: &duckv1.Destination{}},
		want: []string{"expected at least one, got none: spec.delivery.deadLetterSink.ref, spec.delivery.deadLetterSink.uri"},
	}, {
		name: "dead-letter sink ref without a name",
		spec: &DeliverySpec{DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service"}}},
		want: []string{"missing field(s): spec.delivery.deadLetterSink.ref.name"},
	}, {
		name: "every mistake is reported at once",
		spec: &DeliverySpec{Retry: ptr.To[int32](-2), Timeout: ptr.To("P1M")},
		want: []string{"spec.delivery.retry", "spec.delivery.timeout"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Broker{Spec: BrokerSpec{Delivery: tc.spec}}
			checkErr(t, fieldErr(b.Validate(context.Background())), tc.want...)
		})
	}
}
