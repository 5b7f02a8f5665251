package v1

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/equality"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
)

// Validate implements apis.Validatable. A Revision is a snapshot: once
// created, its spec never changes.
func (r *Revision) Validate(ctx context.Context) *apis.FieldError {
	errs := validateName(&r.ObjectMeta).ViaField("metadata")
	errs = errs.Also(validateAutoscalingAnnotations(ctx, r.Annotations).ViaField("metadata"))
	errs = errs.Also(r.Spec.Validate(ctx).ViaField("spec"))
	if old, ok := baseline[*Revision](ctx); ok && !equality.Semantic.DeepEqual(old.Spec, r.Spec) {
		errs = errs.Also(&apis.FieldError{
			Message: "Immutable fields changed (-old +new)",
			Paths:   []string{"spec"},
			Details: cmp.Diff(old.Spec, r.Spec) + "\na Revision's spec is immutable: change the template of its Configuration or Service to get a new Revision",
		})
	}
	return errs
}

// Validate checks a template within a Configuration or Service named
// parent. A name chosen by the user (bring your own revision name) must
// start with the parent's name and a dash, so that revisions of different
// services cannot collide; and changing the template without changing such
// a name would ask for a second Revision under a name already taken.
func (rts *RevisionTemplateSpec) Validate(ctx context.Context, parent string) *apis.FieldError {
	errs := validateAutoscalingAnnotations(ctx, rts.Annotations).ViaField("metadata")
	errs = errs.Also(rts.Spec.Validate(ctx).ViaField("spec"))

	if rts.Namespace != "" {
		errs = errs.Also(apis.ErrDisallowedFields("namespace").ViaField("metadata"))
	}
	if rts.GenerateName != "" {
		errs = errs.Also(&apis.FieldError{
			Message: "must not set the field(s)",
			Paths:   []string{"metadata.generateName"},
			Details: "revision names are generated from the parent's name; set metadata.name for a name of your own",
		})
	}
	if rts.Name == "" {
		return errs
	}
	switch {
	case parent == "":
		errs = errs.Also(&apis.FieldError{
			Message: "a revision name cannot be chosen when the parent's name is generated",
			Paths:   []string{"metadata.name"},
			Details: "give the parent a metadata.name, or remove the template's name",
		})
	case !strings.HasPrefix(rts.Name, parent+"-") || len(rts.Name) == len(parent)+1:
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("invalid value: %s", rts.Name),
			Paths:   []string{"metadata.name"},
			Details: fmt.Sprintf("a revision name must be %q followed by a suffix of your choice, e.g. %s-v2", parent+"-", parent),
		})
	default:
		errs = errs.Also(validateName(&rts.ObjectMeta).ViaField("metadata"))
	}
	if old := baselineTemplate(ctx); old != nil && old.Name == rts.Name &&
		!equality.Semantic.DeepEqual(old.Spec, rts.Spec) {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("the template changed but its name %q did not", rts.Name),
			Paths:   []string{"metadata.name"},
			Details: "a revision name names one immutable Revision; choose a new name with the change, or remove the name to have one generated",
		})
	}
	return errs
}

// baselineTemplate returns the template of the object being updated, or
// nil outside an update.
func baselineTemplate(ctx context.Context) *RevisionTemplateSpec {
	if !apis.IsInUpdate(ctx) {
		return nil
	}
	switch old := apis.GetBaseline(ctx).(type) {
	case *Service:
		return &old.Spec.Template
	case *Configuration:
		return &old.Spec.Template
	}
	return nil
}

// Validate checks a RevisionSpec against config-defaults and
// config-features.
func (rs *RevisionSpec) Validate(ctx context.Context) *apis.FieldError {
	d := config.FromContextOrDefaults(ctx).Defaults
	errs := validatePodSpec(ctx, &rs.PodSpec)

	if cc := rs.ContainerConcurrency; cc != nil {
		switch {
		case *cc < 0 || *cc > d.ContainerConcurrencyMaxLimit:
			errs = errs.Also(withDetails(apis.ErrOutOfBoundsValue(*cc, 0, d.ContainerConcurrencyMaxLimit, "containerConcurrency"),
				fmt.Sprintf("0 means no limit; the maximum is container-concurrency-max-limit in %s", config.DefaultsConfigName)))
		case *cc == 0 && !d.AllowContainerConcurrencyZero:
			errs = errs.Also(withDetails(apis.ErrOutOfBoundsValue(*cc, 1, d.ContainerConcurrencyMaxLimit, "containerConcurrency"),
				fmt.Sprintf("allow-container-concurrency-zero is false in %s, so set a limit of at least 1", config.DefaultsConfigName)))
		}
	}

	maxTimeout := d.MaxRevisionTimeoutSeconds
	boundsHint := fmt.Sprintf("the maximum is max-revision-timeout-seconds in %s", config.DefaultsConfigName)
	if ts := rs.TimeoutSeconds; ts != nil && (*ts < 0 || *ts > maxTimeout) {
		errs = errs.Also(withDetails(apis.ErrOutOfBoundsValue(*ts, 0, maxTimeout, "timeoutSeconds"), boundsHint))
	}
	if rst := rs.ResponseStartTimeoutSeconds; rst != nil {
		upper := maxTimeout
		hint := boundsHint
		if rs.TimeoutSeconds != nil && *rs.TimeoutSeconds > 0 {
			upper = *rs.TimeoutSeconds
			hint = "the first byte of a response cannot be awaited longer than the whole request (timeoutSeconds)"
		}
		if *rst < 0 || *rst > upper {
			errs = errs.Also(withDetails(apis.ErrOutOfBoundsValue(*rst, 0, upper, "responseStartTimeoutSeconds"), hint))
		}
	}
	if its := rs.IdleTimeoutSeconds; its != nil && (*its < 0 || *its > maxTimeout) {
		errs = errs.Also(withDetails(apis.ErrOutOfBoundsValue(*its, 0, maxTimeout, "idleTimeoutSeconds"), boundsHint))
	}
	return errs
}

func validateAutoscalingAnnotations(ctx context.Context, annotations map[string]string) *apis.FieldError {
	return autoscaling.ValidateAnnotations(config.FromContextOrDefaults(ctx).Autoscaler, annotations)
}

func withDetails(err *apis.FieldError, details string) *apis.FieldError {
	err.Details = details
	return err
}
