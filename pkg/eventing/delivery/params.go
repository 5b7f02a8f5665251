package delivery

import (
	"errors"
	"fmt"
	"time"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

// Flywheel's values for what a DeliverySpec leaves unset, and its bound on
// how long one wait between attempts can grow.
const (
	// DefaultBackoffPolicy spaces retries when the spec has none.
	// Exponential, as the data-plane contract recommends for congestion
	// control.
	DefaultBackoffPolicy = eventingv1.BackoffPolicyExponential

	// DefaultBackoffDelay is the unit of the backoff when the spec has
	// retries but no backoffDelay (PT0.2S). Retrying at once would hammer
	// a subscriber that is already failing.
	DefaultBackoffDelay = 200 * time.Millisecond

	// DefaultTimeout bounds one attempt when the spec has no timeout
	// (PT60S), so a subscriber that never answers cannot hold an event,
	// and the JetStream message behind it, for ever.
	DefaultTimeout = 60 * time.Second

	// MaxBackoff caps one wait between attempts. Without it an exponential
	// policy reaches days after a few dozen retries and overflows
	// time.Duration after 63.
	MaxBackoff = time.Hour
)

// Params is a DeliverySpec resolved to the values one delivery uses. The
// zero value makes one attempt with DefaultTimeout.
type Params struct {
	// Retry is how many times a failed attempt is tried again; 0 makes
	// one attempt in all.
	Retry int
	// BackoffPolicy spaces the retries; empty means DefaultBackoffPolicy.
	BackoffPolicy eventingv1.BackoffPolicyType
	// BackoffDelay is the unit of the backoff.
	BackoffDelay time.Duration
	// Timeout bounds one attempt, response body included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// ParamsFrom resolves a DeliverySpec, which may be nil, to Params: no
// retries when retry is unset (as in Knative), DefaultBackoffPolicy,
// DefaultBackoffDelay and DefaultTimeout for the other unset fields. It
// refuses what the webhook would refuse: a negative retry, a duration that
// is not ISO 8601 or not positive, an unknown policy. The dead-letter sink
// is not its concern: the caller resolves it to a URL.
func ParamsFrom(ds *eventingv1.DeliverySpec) (Params, error) {
	p := Params{
		BackoffPolicy: DefaultBackoffPolicy,
		BackoffDelay:  DefaultBackoffDelay,
		Timeout:       DefaultTimeout,
	}
	if ds == nil {
		return p, nil
	}
	var errs []error
	if ds.Retry != nil {
		if *ds.Retry < 0 {
			errs = append(errs, fmt.Errorf("retry must not be negative, got %d", *ds.Retry))
		} else {
			p.Retry = int(*ds.Retry)
		}
	}
	if ds.BackoffPolicy != nil {
		switch *ds.BackoffPolicy {
		case eventingv1.BackoffPolicyLinear, eventingv1.BackoffPolicyExponential:
			p.BackoffPolicy = *ds.BackoffPolicy
		default:
			errs = append(errs, fmt.Errorf("backoffPolicy %q is neither linear nor exponential", *ds.BackoffPolicy))
		}
	}
	if d, err := positiveDuration(ds.BackoffDelay, "backoffDelay"); err != nil {
		errs = append(errs, err)
	} else if d > 0 {
		p.BackoffDelay = d
	}
	if d, err := positiveDuration(ds.Timeout, "timeout"); err != nil {
		errs = append(errs, err)
	} else if d > 0 {
		p.Timeout = d
	}
	if len(errs) > 0 {
		return Params{}, fmt.Errorf("delivery spec: %w", errors.Join(errs...))
	}
	return p, nil
}

// positiveDuration parses an optional ISO 8601 duration; it returns 0 when
// the field is unset.
func positiveDuration(v *string, field string) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	d, err := eventingv1.ParseDuration(*v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s must be longer than zero, got %q", field, *v)
	}
	return d, nil
}

// Backoff is the wait before retry number retry (1 for the first retry):
// BackoffDelay × retry for a linear policy, BackoffDelay × 2^retry for an
// exponential one, as Knative documents them, capped at MaxBackoff. It is
// 0 for retry < 1 or a delay that is not positive.
func (p Params) Backoff(retry int) time.Duration {
	d := p.BackoffDelay
	if retry < 1 || d <= 0 {
		return 0
	}
	if d >= MaxBackoff {
		return MaxBackoff
	}
	// factor is compared with MaxBackoff/d before multiplying, so the
	// product never overflows and never passes the cap.
	var factor uint64
	if p.BackoffPolicy == eventingv1.BackoffPolicyLinear {
		factor = uint64(retry)
	} else {
		if retry >= 63 {
			return MaxBackoff
		}
		factor = 1 << uint(retry)
	}
	if factor > uint64(MaxBackoff/d) {
		return MaxBackoff
	}
	return d * time.Duration(factor)
}

// timeout is the bound on one attempt.
func (p Params) timeout() time.Duration {
	if p.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.Timeout
}
