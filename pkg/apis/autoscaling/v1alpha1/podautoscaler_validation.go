package v1alpha1

import (
	"context"
	"fmt"

	"knative.dev/pkg/apis"
	"knative.dev/pkg/kmp"

	"flywheel.dev/pkg/apis/autoscaling"
	"flywheel.dev/pkg/apis/config"
)

// Validate implements apis.Validatable. The Revision reconciler writes
// PodAutoscalers, so a failure here is a platform bug or a hand edit; the
// messages still say what to fix.
func (pa *PodAutoscaler) Validate(ctx context.Context) *apis.FieldError {
	// A status update cannot change metadata or spec, and refusing it
	// because config-autoscaler has since tightened would leave the
	// autoscaler unable to report.
	if apis.IsInStatusUpdate(ctx) {
		return nil
	}
	cfg := config.FromContextOrDefaults(ctx)
	var base *PodAutoscaler
	if apis.IsInUpdate(ctx) {
		base, _ = apis.GetBaseline(ctx).(*PodAutoscaler)
	}
	errs := autoscaling.ValidateAnnotations(cfg.Autoscaler, pa.Annotations).ViaField("metadata")
	return errs.Also(pa.Spec.validate(cfg.Defaults, base).ViaField("spec"))
}

// validate checks the spec; base is the object being updated, or nil on
// create.
func (s *PodAutoscalerSpec) validate(defaults *config.Defaults, base *PodAutoscaler) *apis.FieldError {
	var missing []string
	if s.ScaleTargetRef.APIVersion == "" {
		missing = append(missing, "apiVersion")
	}
	if s.ScaleTargetRef.Kind == "" {
		missing = append(missing, "kind")
	}
	if s.ScaleTargetRef.Name == "" {
		missing = append(missing, "name")
	}
	var errs *apis.FieldError
	if len(missing) > 0 {
		errs = apis.ErrMissingField(missing...).ViaField("scaleTargetRef")
	}

	// containerConcurrency is copied from a Revision that was held to the
	// limit of its day; an update that leaves it alone is not refused
	// because an operator has since lowered the limit.
	if limit := defaults.ContainerConcurrencyMaxLimit; base == nil || base.Spec.ContainerConcurrency != s.ContainerConcurrency {
		if s.ContainerConcurrency < 0 || s.ContainerConcurrency > limit {
			errs = errs.Also(apis.ErrOutOfBoundsValue(s.ContainerConcurrency, 0, limit, "containerConcurrency"))
		}
	}

	switch s.ProtocolType {
	case "", ProtocolHTTP1, ProtocolH2C:
	default:
		errs = errs.Also(apis.ErrInvalidValue(s.ProtocolType, "protocolType",
			fmt.Sprintf("protocolType must be %s or %s", ProtocolHTTP1, ProtocolH2C)))
	}

	switch s.Reachability {
	case ReachabilityUnknown, ReachabilityReachable, ReachabilityUnreachable:
	default:
		errs = errs.Also(apis.ErrInvalidValue(s.Reachability, "reachability",
			fmt.Sprintf("reachability must be empty, %s or %s", ReachabilityReachable, ReachabilityUnreachable)))
	}

	// The PodAutoscaler and its target are one Revision's pair; pointing it
	// elsewhere would leave the old Deployment with no one scaling it.
	if base != nil && base.Spec.ScaleTargetRef != s.ScaleTargetRef {
		diff, err := kmp.ShortDiff(base.Spec.ScaleTargetRef, s.ScaleTargetRef)
		if err != nil {
			diff = fmt.Sprintf("was %v, now %v", base.Spec.ScaleTargetRef, s.ScaleTargetRef)
		}
		errs = errs.Also(&apis.FieldError{
			Message: "immutable field changed (-old +new)",
			Paths:   []string{"scaleTargetRef"},
			Details: "scaleTargetRef cannot change; make a new PodAutoscaler for another target\n" + diff,
		})
	}
	return errs
}
