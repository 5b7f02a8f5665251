package v1

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/tracker"
)

// Validate checks a SinkBinding: a subject that names a kind, in the
// binding's own namespace, by exactly one of name and selector; a sink;
// valid CloudEvents overrides.
func (sb *SinkBinding) Validate(ctx context.Context) *apis.FieldError {
	errs := validateSubject(&sb.Spec.Subject, sb.Namespace).ViaField("subject")
	errs = errs.Also(validateSourceSpec(ctx, &sb.Spec.SourceSpec))
	return errs.ViaField("spec")
}

// validateSubject checks a subject. It must live in the binding's
// namespace: a binding rewrites its subjects' pod templates, which must
// take no more than the right to create a SinkBinding in their namespace.
func validateSubject(s *tracker.Reference, namespace string) *apis.FieldError {
	errs := validateKind(s.APIVersion, s.Kind)
	if s.Namespace != "" && namespace != "" && s.Namespace != namespace {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("the subject is in namespace %q, the SinkBinding in %q", s.Namespace, namespace),
			Paths:   []string{"namespace"},
			Details: fmt.Sprintf("create the SinkBinding in namespace %q, or remove subject.namespace", s.Namespace),
		})
	}
	switch {
	case s.Name != "" && s.Selector != nil:
		errs = errs.Also(&apis.FieldError{
			Message: "expected exactly one, got both",
			Paths:   []string{"name", "selector"},
			Details: "set name to bind one object, or selector to bind every object of the kind whose labels match",
		})
	case s.Name == "" && s.Selector == nil:
		errs = errs.Also(&apis.FieldError{
			Message: "expected exactly one, got neither",
			Paths:   []string{"name", "selector"},
			Details: "set name to bind one object, or selector to bind every object of the kind whose labels match",
		})
	case s.Name != "":
		if msgs := validation.IsDNS1123Subdomain(s.Name); len(msgs) > 0 {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("invalid value %q: %s", s.Name, strings.Join(msgs, "; ")),
				Paths:   []string{"name"},
				Details: "set the name of the object to bind, as kubectl get shows it",
			})
		}
	default:
		errs = errs.Also(validateSelector(s.Selector).ViaField("selector"))
	}
	return errs
}
