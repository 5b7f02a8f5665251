package v1

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// validateSourceSpec checks what every source shares: a sink, and
// CloudEvents overrides whose names are valid extension attribute names.
func validateSourceSpec(ctx context.Context, spec *duckv1.SourceSpec) *apis.FieldError {
	errs := validateSink(ctx, &spec.Sink).ViaField("sink")
	return errs.Also(validateOverrides(spec.CloudEventOverrides).ViaField("ceOverrides"))
}

// validateSink requires a sink: a source without one has nowhere to send
// its events. Its ref or URI are then checked by knative.dev/pkg's rules.
func validateSink(ctx context.Context, sink *duckv1.Destination) *apis.FieldError {
	if sink.Ref == nil && sink.URI == nil {
		return &apis.FieldError{
			Message: "a sink is required",
			Paths:   []string{apis.CurrentField},
			Details: "set ref to the Broker, Knative Service or other addressable object that receives the events, or uri to its URL",
		}
	}
	errs := sink.Validate(ctx)
	if sink.Ref != nil && sink.URI != nil {
		// knative.dev/pkg skips the ref when a relative URI comes with it;
		// the ref must name an object all the same.
		errs = errs.Also(sink.Ref.Validate(ctx).ViaField("ref"))
	}
	return errs
}

// validateOverrides checks each extension name against the rule the
// Broker's filters hold attribute names to, so that an event a source
// sends can be filtered on every attribute it carries.
func validateOverrides(o *duckv1.CloudEventOverrides) *apis.FieldError {
	if o == nil {
		return nil
	}
	var errs *apis.FieldError
	for name := range o.Extensions {
		if err := eventingv1.ValidateAttributeName(name); err != nil {
			fix := "rename the extension"
			if s := suggestAttributeName(name); s != "" {
				fix = fmt.Sprintf("rename the extension, for example to %q", s)
			}
			errs = errs.Also(apis.ErrInvalidKeyName(name, apis.CurrentField, err.Error()+": "+fix).ViaFieldKey("extensions", name))
		}
	}
	return errs
}

// suggestAttributeName is name in lower case without the characters an
// attribute name cannot hold, or "" when nothing is left.
func suggestAttributeName(name string) string {
	return strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, strings.ToLower(name))
}

// validateKind checks that an apiVersion and kind name a kind: both set,
// the apiVersion a group and version.
func validateKind(apiVersion, kind string) *apis.FieldError {
	var errs *apis.FieldError
	if apiVersion == "" {
		errs = errs.Also(&apis.FieldError{
			Message: "missing field(s)",
			Paths:   []string{"apiVersion"},
			Details: "set the kind's group and version, such as v1 for ConfigMap or apps/v1 for Deployment",
		})
	} else if _, err := schema.ParseGroupVersion(apiVersion); err != nil {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("invalid value %q: %v", apiVersion, err),
			Paths:   []string{"apiVersion"},
			Details: "write group/version, such as apps/v1, or only the version for the core group, such as v1",
		})
	}
	if kind == "" {
		errs = errs.Also(&apis.FieldError{
			Message: "missing field(s)",
			Paths:   []string{"kind"},
			Details: "set the kind's name, such as ConfigMap or Deployment",
		})
	}
	return errs
}

// validateSelector checks that a label selector, if any, parses.
func validateSelector(s *metav1.LabelSelector) *apis.FieldError {
	if s == nil {
		return nil
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return &apis.FieldError{
			Message: fmt.Sprintf("invalid label selector: %v", err),
			Paths:   []string{apis.CurrentField},
			Details: "label keys and values are names such as app or tier; matchExpressions take operator In or NotIn with values, Exists or DoesNotExist without",
		}
	}
	return nil
}
