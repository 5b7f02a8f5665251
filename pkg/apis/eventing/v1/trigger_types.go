package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// Trigger delivers the events of one Broker that match its filter to its
// subscriber.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all;knative;eventing
// +kubebuilder:printcolumn:name="Broker",type=string,JSONPath=".spec.broker"
// +kubebuilder:printcolumn:name="Subscriber_URI",type=string,JSONPath=".status.subscriberUri"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type Trigger struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TriggerSpec `json:"spec,omitempty"`

	// +optional
	Status TriggerStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*Trigger)(nil)
	_ apis.Defaultable   = (*Trigger)(nil)
	_ kmeta.OwnerRefable = (*Trigger)(nil)
	_ duckv1.KRShaped    = (*Trigger)(nil)
)

// TriggerSpec is what a user asks of a Trigger.
type TriggerSpec struct {
	// Broker names the Broker, in the Trigger's namespace, whose events
	// the Trigger delivers. It cannot change.
	Broker string `json:"broker"`

	// Filter selects events by exact attribute values; an empty value
	// matches any event that has the attribute.
	// +optional
	Filter *TriggerFilter `json:"filter,omitempty"`

	// Filters select events by expressions of the dialects exact, prefix,
	// suffix, all, any, not and cesql. An event must match every one of
	// them, and the filter above too when both are given.
	// +optional
	Filters []SubscriptionsAPIFilter `json:"filters,omitempty"`

	// Subscriber is where matching events go.
	Subscriber duckv1.Destination `json:"subscriber"`

	// Delivery overrides the Broker's DeliverySpec for this Trigger.
	// +optional
	Delivery *DeliverySpec `json:"delivery,omitempty"`
}

// TriggerFilter selects events by attribute.
type TriggerFilter struct {
	// Attributes maps a context attribute or extension name to the value
	// it must have.
	// +optional
	Attributes TriggerFilterAttributes `json:"attributes,omitempty"`
}

// TriggerFilterAttributes maps attribute names to the values they must
// have; the empty value means any.
type TriggerFilterAttributes map[string]string

// SubscriptionsAPIFilter is one filter expression of the CloudEvents
// Subscriptions API. Exactly one of its fields is set.
type SubscriptionsAPIFilter struct {
	// All matches when every nested filter matches.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	All []SubscriptionsAPIFilter `json:"all,omitempty"`

	// Any matches when at least one nested filter matches.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Any []SubscriptionsAPIFilter `json:"any,omitempty"`

	// Not matches when its nested filter does not.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Not *SubscriptionsAPIFilter `json:"not,omitempty"`

	// Exact matches when each named attribute equals its value.
	// +optional
	Exact map[string]string `json:"exact,omitempty"`

	// Prefix matches when each named attribute starts with its value.
	// +optional
	Prefix map[string]string `json:"prefix,omitempty"`

	// Suffix matches when each named attribute ends with its value.
	// +optional
	Suffix map[string]string `json:"suffix,omitempty"`

	// CESQL matches when the CloudEvents SQL expression is true.
	// +optional
	CESQL string `json:"cesql,omitempty"`
}

// TriggerStatus is what the platform observed of a Trigger.
type TriggerStatus struct {
	duckv1.Status `json:",inline"`

	// SubscriberURI is the subscriber resolved to a URL.
	// +optional
	SubscriberURI *apis.URL `json:"subscriberUri,omitempty"`

	// DeliveryStatus holds the dead-letter sink in use, resolved: the
	// Trigger's own, else its Broker's.
	DeliveryStatus `json:",inline"`
}

// TriggerList is a list of Triggers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type TriggerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Trigger `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*Trigger) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("Trigger")
}

// GetStatus implements duckv1.KRShaped.
func (t *Trigger) GetStatus() *duckv1.Status { return &t.Status.Status }
