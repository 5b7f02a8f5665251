package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
)

func TestBackoff(t *testing.T) {
	linear := func(d time.Duration) Params {
		return Params{BackoffPolicy: eventingv1.BackoffPolicyLinear, BackoffDelay: d}
	}
	exponential := func(d time.Duration) Params {
		return Params{BackoffPolicy: eventingv1.BackoffPolicyExponential, BackoffDelay: d}
	}
	tests := []struct {
		name    string
		params  Params
		retries []int
		want    []time.Duration
	}{{
		name:    "linear waits the delay times the retry's number",
		params:  linear(100 * time.Millisecond),
		retries: []int{1, 2, 3, 4},
		want:    []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond},
	}, {
		name:    "exponential waits the delay times two to the retry's number",
		params:  exponential(100 * time.Millisecond),
		retries: []int{1, 2, 3, 4},
		want:    []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond},
	}, {
		name:    "no policy is exponential",
		params:  Params{BackoffDelay: time.Second},
		retries: []int{1, 3},
		want:    []time.Duration{2 * time.Second, 8 * time.Second},
	}, {
		name:    "no delay, no wait",
		params:  exponential(0),
		retries: []int{1, 2, 60},
		want:    []time.Duration{0, 0, 0},
	}, {
		name:    "retry zero or less has no wait",
		params:  linear(time.Second),
		retries: []int{0, -1},
		want:    []time.Duration{0, 0},
	}, {
		name:    "exponential reaches the cap",
		params:  exponential(time.Second),
		retries: []int{11, 12, 13},
		want:    []time.Duration{2048 * time.Second, MaxBackoff, MaxBackoff},
	}, {
		name:    "exponential past the bits of a Duration stays at the cap",
		params:  exponential(time.Nanosecond),
		retries: []int{62, 63, 64, 1000, int(^uint(0) >> 1)},
		want:    []time.Duration{MaxBackoff, MaxBackoff, MaxBackoff, MaxBackoff, MaxBackoff},
	}, {
		name:    "linear with a huge retry stays at the cap",
		params:  linear(time.Hour - 1),
		retries: []int{1, 2, int(^uint(0) >> 1)},
		want:    []time.Duration{time.Hour - 1, MaxBackoff, MaxBackoff},
	}, {
		name:    "a delay past the cap is the cap",
		params:  linear(24 * time.Hour),
		retries: []int{1},
		want:    []time.Duration{MaxBackoff},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []time.Duration
			for _, r := range tc.retries {
				got = append(got, tc.params.Backoff(r))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Backoff(%v) (-want, +got):\n%s", tc.retries, diff)
			}
		})
	}
}

func TestParamsFrom(t *testing.T) {
	i32 := func(i int32) *int32 { return &i }
	str := func(s string) *string { return &s }
	policy := func(p eventingv1.BackoffPolicyType) *eventingv1.BackoffPolicyType { return &p }
	defaults := Params{BackoffPolicy: DefaultBackoffPolicy, BackoffDelay: DefaultBackoffDelay, Timeout: DefaultTimeout}

	tests := []struct {
		name    string
		spec    *eventingv1.DeliverySpec
		want    Params
		wantErr []string
	}{{
		name: "no spec: one attempt, the defaults",
		want: defaults,
	}, {
		name: "empty spec: the same",
		spec: &eventingv1.DeliverySpec{},
		want: defaults,
	}, {
		name: "every field set",
		spec: &eventingv1.DeliverySpec{
			Retry:         i32(5),
			BackoffPolicy: policy(eventingv1.BackoffPolicyLinear),
			BackoffDelay:  str("PT0.5S"),
			Timeout:       str("PT10S"),
		},
		want: Params{Retry: 5, BackoffPolicy: eventingv1.BackoffPolicyLinear, BackoffDelay: 500 * time.Millisecond, Timeout: 10 * time.Second},
	}, {
		name: "a policy without a delay gets the default delay",
		spec: &eventingv1.DeliverySpec{Retry: i32(3), BackoffPolicy: policy(eventingv1.BackoffPolicyLinear)},
		want: Params{Retry: 3, BackoffPolicy: eventingv1.BackoffPolicyLinear, BackoffDelay: DefaultBackoffDelay, Timeout: DefaultTimeout},
	}, {
		name: "a delay without a policy gets the default policy",
		spec: &eventingv1.DeliverySpec{Retry: i32(3), BackoffDelay: str("PT1S")},
		want: Params{Retry: 3, BackoffPolicy: DefaultBackoffPolicy, BackoffDelay: time.Second, Timeout: DefaultTimeout},
	}, {
		name: "retry zero is one attempt",
		spec: &eventingv1.DeliverySpec{Retry: i32(0)},
		want: defaults,
	}, {
		name:    "negative retry",
		spec:    &eventingv1.DeliverySpec{Retry: i32(-1)},
		wantErr: []string{"retry must not be negative"},
	}, {
		name:    "unknown policy",
		spec:    &eventingv1.DeliverySpec{BackoffPolicy: policy("fibonacci")},
		wantErr: []string{`"fibonacci"`},
	}, {
		name:    "a delay that is not ISO 8601",
		spec:    &eventingv1.DeliverySpec{BackoffDelay: str("200ms")},
		wantErr: []string{"backoffDelay"},
	}, {
		name:    "a zero timeout",
		spec:    &eventingv1.DeliverySpec{Timeout: str("PT0S")},
		wantErr: []string{"timeout must be longer than zero"},
	}, {
		name:    "every error is reported at once",
		spec:    &eventingv1.DeliverySpec{Retry: i32(-2), Timeout: str("10s"), BackoffDelay: str("P1M")},
		wantErr: []string{"retry", "timeout", "backoffDelay"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParamsFrom(tc.spec)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParamsFrom() = %+v, want an error", got)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("ParamsFrom() error = %q, want it to mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParamsFrom() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParamsFrom() (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestZeroParamsTimeout(t *testing.T) {
	if got := (Params{}).timeout(); got != DefaultTimeout {
		t.Errorf("Params{}.timeout() = %v, want DefaultTimeout %v", got, DefaultTimeout)
	}
}
