package v1

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"
)

// Validate checks an ApiServerSource: at least one resource, each a kind
// with a valid selector, an owner that names a kind, a known mode, a
// service account name that can exist, a valid namespace selector, a sink
// and valid CloudEvents overrides.
func (a *ApiServerSource) Validate(ctx context.Context) *apis.FieldError {
	return a.Spec.validate(ctx).ViaField("spec")
}

func (as *ApiServerSourceSpec) validate(ctx context.Context) *apis.FieldError {
	var errs *apis.FieldError
	if len(as.Resources) == 0 {
		errs = errs.Also(&apis.FieldError{
			Message: "at least one resource is required",
			Paths:   []string{"resources"},
			Details: "list the kinds to watch, such as {apiVersion: v1, kind: ConfigMap}",
		})
	}
	for i, r := range as.Resources {
		errs = errs.Also(validateKind(r.APIVersion, r.Kind).
			Also(validateSelector(r.Selector).ViaField("selector")).
			ViaFieldIndex("resources", i))
	}
	if as.Owner != nil {
		errs = errs.Also(validateKind(as.Owner.APIVersion, as.Owner.Kind).ViaField("owner"))
	}
	switch as.Mode {
	case "", EventModeReference, EventModeResource:
	default:
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("invalid value %q", as.Mode),
			Paths:   []string{"mode"},
			Details: fmt.Sprintf("use %s for events that carry a reference to the object, or %s for the whole object", EventModeReference, EventModeResource),
		})
	}
	if as.ServiceAccountName != "" {
		if msgs := validation.IsDNS1123Subdomain(as.ServiceAccountName); len(msgs) > 0 {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("invalid value %q: %s", as.ServiceAccountName, strings.Join(msgs, "; ")),
				Paths:   []string{"serviceAccountName"},
				Details: "name a ServiceAccount in the source's namespace, or remove the field to use " + DefaultServiceAccountName,
			})
		}
	}
	errs = errs.Also(validateSelector(as.NamespaceSelector).ViaField("namespaceSelector"))
	return errs.Also(validateSourceSpec(ctx, &as.SourceSpec))
}
