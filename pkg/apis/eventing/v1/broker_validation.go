package v1

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"knative.dev/pkg/apis"
)

// Validate checks a Broker: its DeliverySpec, and on update that
// spec.config did not change, as Knative requires.
func (b *Broker) Validate(ctx context.Context) *apis.FieldError {
	errs := b.Spec.Delivery.Validate(ctx).ViaField("delivery").ViaField("spec")
	if b.Spec.Config != nil {
		errs = errs.Also(b.Spec.Config.Validate(ctx).ViaField("config").ViaField("spec"))
	}
	if apis.IsInUpdate(ctx) {
		if old, ok := apis.GetBaseline(ctx).(*Broker); ok && old != nil && !equality.Semantic.DeepEqual(old.Spec.Config, b.Spec.Config) {
			errs = errs.Also(&apis.FieldError{
				Message: "spec.config cannot change",
				Paths:   []string{"spec.config"},
				Details: "delete the Broker and create it again with the new config",
			})
		}
	}
	return errs
}
