package v1

import (
	"context"
	"fmt"

	"knative.dev/pkg/apis"
)

// Validate checks a DeliverySpec: a retry count that is not negative,
// durations in ISO 8601 that are positive, a known backoff policy, and a
// dead-letter sink with a ref or a URI.
func (ds *DeliverySpec) Validate(ctx context.Context) *apis.FieldError {
	if ds == nil {
		return nil
	}
	var errs *apis.FieldError
	if ds.DeadLetterSink != nil {
		errs = errs.Also(ds.DeadLetterSink.Validate(ctx).ViaField("deadLetterSink"))
	}
	if ds.Retry != nil && *ds.Retry < 0 {
		errs = errs.Also(&apis.FieldError{
			Message: fmt.Sprintf("retry must not be negative, got %d", *ds.Retry),
			Paths:   []string{"retry"},
			Details: "set it to the number of retries after the first attempt, or remove it for none",
		})
	}
	errs = errs.Also(validatePositiveDuration(ds.Timeout, "timeout", "PT10S"))
	errs = errs.Also(validatePositiveDuration(ds.BackoffDelay, "backoffDelay", "PT0.2S"))
	if ds.BackoffPolicy != nil {
		switch *ds.BackoffPolicy {
		case BackoffPolicyLinear, BackoffPolicyExponential:
		default:
			errs = errs.Also(&apis.FieldError{
				Message: fmt.Sprintf("invalid value %q", *ds.BackoffPolicy),
				Paths:   []string{"backoffPolicy"},
				Details: "use linear or exponential",
			})
		}
	}
	return errs
}

func validatePositiveDuration(v *string, field, example string) *apis.FieldError {
	if v == nil {
		return nil
	}
	d, err := ParseDuration(*v)
	if err != nil {
		return &apis.FieldError{Message: err.Error(), Paths: []string{field}, Details: "write an ISO 8601 duration such as " + example}
	}
	if d <= 0 {
		return &apis.FieldError{Message: fmt.Sprintf("%s must be longer than zero, got %q", field, *v), Paths: []string{field}, Details: "write an ISO 8601 duration such as " + example}
	}
	return nil
}
