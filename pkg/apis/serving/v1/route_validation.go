package v1

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"
)

// Validate implements apis.Validatable.
func (r *Route) Validate(ctx context.Context) *apis.FieldError {
	errs := validateName(&r.ObjectMeta).ViaField("metadata")
	errs = errs.Also(validateCreatorUnchanged(ctx, &r.ObjectMeta))
	if len(r.Spec.Traffic) == 0 {
		errs = errs.Also(&apis.FieldError{
			Message: "missing field(s)",
			Paths:   []string{"spec.traffic"},
			Details: "a Route needs at least one traffic target, e.g. {configurationName: <name>, percent: 100}",
		})
	}
	return errs.Also(r.Spec.validate(ctx, r.Name, true).ViaField("spec"))
}

// validate checks a traffic block. A Route may send traffic to any
// Configuration; a Service's traffic block can only name its own, so it
// takes latestRevision instead (allowConfigurations false).
func (rs *RouteSpec) validate(ctx context.Context, routeName string, allowConfigurations bool) *apis.FieldError {
	var errs *apis.FieldError
	var sum int64
	tags := map[string]int{}
	for i := range rs.Traffic {
		tt := &rs.Traffic[i]
		errs = errs.Also(tt.validate(ctx, allowConfigurations).ViaFieldIndex("traffic", i))
		if tt.Percent != nil {
			sum += *tt.Percent
		}
		if tt.Tag == "" {
			continue
		}
		if first, dup := tags[tt.Tag]; dup {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("tag %q is used by more than one target", tt.Tag),
				Paths:   []string{fmt.Sprintf("traffic[%d].tag", i)},
				Details: fmt.Sprintf("traffic[%d] already has this tag; each tag names one target and one URL", first),
			})
			continue
		}
		tags[tt.Tag] = i
		// The tag's hostname label is <tag>-<route>; it must fit a DNS label.
		if routeName != "" && len(tt.Tag)+1+len(routeName) > validation.DNS1123LabelMaxLength {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("tag %q with the name %q makes a hostname label longer than %d characters", tt.Tag, routeName, validation.DNS1123LabelMaxLength),
				Paths:   []string{fmt.Sprintf("traffic[%d].tag", i)},
				Details: "use a shorter tag",
			})
		}
	}
	if len(rs.Traffic) > 0 && sum != 100 {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("traffic percents add up to %d, not 100", sum),
			Paths:   []string{"traffic"},
			Details: "change the percent of the targets so that together they send all traffic somewhere",
		})
	}
	return errs
}

// validate checks one target. In a Route it names a revisionName or a
// configurationName; in a Service, a revisionName or latestRevision: true
// (the Service's own Configuration).
func (tt *TrafficTarget) validate(_ context.Context, allowConfigurations bool) *apis.FieldError {
	var errs *apis.FieldError
	latest := tt.LatestRevision != nil && *tt.LatestRevision

	switch {
	case tt.ConfigurationName != "" && !allowConfigurations:
		errs = errs.Also(&apis.FieldError{
			Message: "must not set the field(s)",
			Paths:   []string{"configurationName"},
			Details: "a Service sends traffic only to its own revisions: use latestRevision: true or revisionName",
		})
	case tt.RevisionName != "" && tt.ConfigurationName != "":
		errs = errs.Also(apis.ErrMultipleOneOf("revisionName", "configurationName"))
	case tt.RevisionName != "" && latest:
		errs = errs.Also(&apis.FieldError{
			Message: "latestRevision: true and revisionName both set",
			Paths:   []string{"latestRevision", "revisionName"},
			Details: "pin a named revision with latestRevision: false, or drop revisionName to follow the latest",
		})
	case tt.RevisionName == "" && tt.LatestRevision != nil && !latest:
		errs = errs.Also(&apis.FieldError{
			Message: "latestRevision: false needs a revisionName",
			Paths:   []string{"revisionName"},
			Details: "name the revision to pin, or set latestRevision: true",
		})
	case tt.RevisionName == "" && tt.ConfigurationName == "" && allowConfigurations:
		// A Route has no Configuration of its own for latestRevision to
		// follow.
		errs = errs.Also(apis.ErrMissingOneOf("revisionName", "configurationName"))
	}
	if tt.RevisionName != "" {
		if msgs := validation.IsDNS1035Label(tt.RevisionName); len(msgs) > 0 {
			errs = errs.Also(apis.ErrInvalidValue(tt.RevisionName, "revisionName", strings.Join(msgs, "; ")))
		}
	}
	if tt.Percent != nil && (*tt.Percent < 0 || *tt.Percent > 100) {
		errs = errs.Also(apis.ErrOutOfBoundsValue(*tt.Percent, 0, 100, "percent"))
	}
	if tt.Tag != "" {
		if msgs := validation.IsDNS1123Label(tt.Tag); len(msgs) > 0 {
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("invalid value: %s", tt.Tag),
				Paths:   []string{"tag"},
				Details: "a tag becomes part of a hostname, so it must be a DNS-1123 label: " + strings.Join(msgs, "; "),
			})
		}
	}
	if tt.URL != nil {
		errs = errs.Also(&apis.FieldError{
			Message: "must not set the field(s)",
			Paths:   []string{"url"},
			Details: "url is filled in by the platform in status.traffic",
		})
	}
	return errs
}
