package v1

import (
	"context"

	"knative.dev/pkg/apis"
)

// Validate implements apis.Validatable.
func (s *Service) Validate(ctx context.Context) *apis.FieldError {
	errs := validateName(&s.ObjectMeta).ViaField("metadata")
	errs = errs.Also(validateCreatorUnchanged(ctx, &s.ObjectMeta))
	errs = errs.Also(s.Spec.Template.Validate(ctx, s.Name).ViaField("spec.template"))
	return errs.Also(s.Spec.RouteSpec.validate(ctx, s.Name, false).ViaField("spec"))
}
