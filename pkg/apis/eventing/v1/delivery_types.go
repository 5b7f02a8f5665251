package v1

import (
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// DeliverySpec says how a Broker's events reach a Trigger's subscriber:
// how often and how far apart to retry, how long one attempt may take, and
// where an event goes when every attempt failed. A Trigger without one
// uses its Broker's.
type DeliverySpec struct {
	// DeadLetterSink receives an event once every attempt failed, with the
	// knativeerrordest, knativeerrorcode and knativeerrordata extensions
	// saying where it failed and why. Without one such an event is dropped.
	// +optional
	DeadLetterSink *duckv1.Destination `json:"deadLetterSink,omitempty"`

	// Retry is how many times a failed delivery is tried again, after the
	// first attempt.
	// +optional
	Retry *int32 `json:"retry,omitempty"`

	// Timeout bounds each attempt, as an ISO 8601 duration (PT10S).
	// +optional
	Timeout *string `json:"timeout,omitempty"`

	// BackoffPolicy spaces the retries: linear waits backoffDelay times the
	// retry's number, exponential backoffDelay times two to that number.
	// +optional
	BackoffPolicy *BackoffPolicyType `json:"backoffPolicy,omitempty"`

	// BackoffDelay is the unit of the backoff, as an ISO 8601 duration
	// (PT0.2S).
	// +optional
	BackoffDelay *string `json:"backoffDelay,omitempty"`
}

// BackoffPolicyType is how retries are spaced.
// +kubebuilder:validation:Enum=linear;exponential
type BackoffPolicyType string

// The backoff policies.
const (
	BackoffPolicyLinear      BackoffPolicyType = "linear"
	BackoffPolicyExponential BackoffPolicyType = "exponential"
)

// DeliveryStatus is the resolved form of a DeliverySpec.
type DeliveryStatus struct {
	// DeadLetterSinkURI is the dead-letter sink resolved to a URL.
	// +optional
	DeadLetterSinkURI *apis.URL `json:"deadLetterSinkUri,omitempty"`
}
