package v1

import (
	"context"

	"knative.dev/pkg/apis"
)

// Validate implements apis.Validatable.
func (c *Configuration) Validate(ctx context.Context) *apis.FieldError {
	errs := validateName(&c.ObjectMeta).ViaField("metadata")
	errs = errs.Also(validateCreatorUnchanged(ctx, &c.ObjectMeta))
	return errs.Also(c.Spec.Template.Validate(ctx, c.Name).ViaField("spec.template"))
}
