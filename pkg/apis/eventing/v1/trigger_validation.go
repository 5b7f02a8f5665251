package v1

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cesql "github.com/cloudevents/sdk-go/sql/v2"
	cesqlparser "github.com/cloudevents/sdk-go/sql/v2/parser"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/eventing"
)

// Validate checks a Trigger: a Broker that does not change, a subscriber
// with a ref or a URI, filters that parse, a DeliverySpec, and a known
// delivery order.
func (t *Trigger) Validate(ctx context.Context) *apis.FieldError {
	errs := t.Spec.validate(ctx).ViaField("spec")
	if v, ok := eventing.DeliveryOrderAnnotation.Get(t.Annotations); ok && v != eventing.DeliveryOrderOrdered && v != eventing.DeliveryOrderUnordered {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("invalid value %q", v),
			Paths:   []string{"metadata.annotations[" + eventing.DeliveryOrderAnnotation.String() + "]"},
			Details: "use ordered or unordered",
		})
	}
	if apis.IsInUpdate(ctx) {
		if old, ok := apis.GetBaseline(ctx).(*Trigger); ok && old != nil && old.Spec.Broker != t.Spec.Broker {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("spec.broker cannot change (from %q to %q)", old.Spec.Broker, t.Spec.Broker),
				Paths:   []string{"spec.broker"},
				Details: "create a new Trigger for the other Broker",
			})
		}
	}
	return errs
}

func (ts *TriggerSpec) validate(ctx context.Context) *apis.FieldError {
	var errs *apis.FieldError
	if ts.Broker == "" {
		errs = errs.Also(apis.ErrMissingField("broker"))
	}
	errs = errs.Also(ts.Subscriber.Validate(ctx).ViaField("subscriber"))
	if ts.Filter != nil {
		for name := range ts.Filter.Attributes {
			if err := ValidateAttributeName(name); err != nil {
				errs = errs.Also(apis.ErrInvalidKeyName(name, apis.CurrentField, err.Error()).ViaFieldKey("attributes", name).ViaField("filter"))
			}
		}
	}
	for i := range ts.Filters {
		errs = errs.Also(ts.Filters[i].validate().ViaFieldIndex("filters", i))
	}
	return errs.Also(ts.Delivery.Validate(ctx).ViaField("delivery"))
}

// validate checks that exactly one dialect is set, that exact, prefix and
// suffix name one valid attribute each, and that a CESQL expression
// parses.
func (f *SubscriptionsAPIFilter) validate() *apis.FieldError {
	var set []string
	var errs *apis.FieldError
	if f.All != nil {
		set = append(set, "all")
		for i := range f.All {
			errs = errs.Also(f.All[i].validate().ViaFieldIndex("all", i))
		}
	}
	if f.Any != nil {
		set = append(set, "any")
		for i := range f.Any {
			errs = errs.Also(f.Any[i].validate().ViaFieldIndex("any", i))
		}
	}
	if f.Not != nil {
		set = append(set, "not")
		errs = errs.Also(f.Not.validate().ViaField("not"))
	}
	for _, d := range []struct {
		name  string
		attrs map[string]string
	}{{"exact", f.Exact}, {"prefix", f.Prefix}, {"suffix", f.Suffix}} {
		if d.attrs == nil {
			continue
		}
		set = append(set, d.name)
		if len(d.attrs) != 1 {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("%s must name exactly one attribute, got %d", d.name, len(d.attrs)),
				Paths:   []string{d.name},
				Details: "put each attribute in its own filter, inside all: when every one must match",
			})
		}
		for name, value := range d.attrs {
			if err := ValidateAttributeName(name); err != nil {
				errs = errs.Also(apis.ErrInvalidKeyName(name, d.name, err.Error()))
			}
			if d.name != "exact" && value == "" {
				errs = errs.Also(&apis.FieldError{Message: d.name + " needs a value", Paths: []string{d.name + "." + name}})
			}
		}
	}
	if f.CESQL != "" {
		set = append(set, "cesql")
		if _, err := ParseCESQL(f.CESQL); err != nil {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("invalid CESQL expression %q: %v", f.CESQL, err),
				Paths:   []string{"cesql"},
				Details: "see the CloudEvents SQL specification; for example: type = 'com.example.order' AND source LIKE '/shop/%'",
			})
		}
	}
	switch len(set) {
	case 0:
		errs = errs.Also(&apis.FieldError{Message: "a filter needs one dialect", Paths: []string{apis.CurrentField}, Details: "set one of exact, prefix, suffix, all, any, not, cesql"})
	case 1:
	default:
		errs = errs.Also(&apis.FieldError{Message: "a filter holds one dialect, got " + strings.Join(set, ", "), Paths: set, Details: "split them into several filters, which must all match"})
	}
	return errs
}

// ParseCESQL parses a CESQL expression. The parser is generated code
// that panics on some malformed input ("type = "): the webhook must refuse
// such a Trigger, and the dispatcher skip it, not crash on it.
func ParseCESQL(expr string) (parsed cesql.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			parsed, err = nil, fmt.Errorf("%v", r)
		}
	}()
	parsed, err = cesqlparser.Parse(expr)
	if err == nil && parsed == nil {
		err = errors.New("no expression")
	}
	return parsed, err
}

// ValidateAttributeName checks a CloudEvents attribute name: lower-case
// letters and digits. The dispatcher's filters hold names to it too.
func ValidateAttributeName(name string) error {
	if name == "" {
		return fmt.Errorf("an attribute name cannot be empty")
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return fmt.Errorf("CloudEvents attribute names hold only lower-case letters and digits")
		}
	}
	return nil
}
