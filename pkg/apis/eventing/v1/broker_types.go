package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// Broker is an event mesh: producers post CloudEvents to its address, and
// its Triggers deliver each event to the subscribers whose filters match.
// Flywheel stores every event a Broker accepts in NATS JetStream before it
// answers 202.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all;knative;eventing
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=".status.address.url"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type Broker struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec BrokerSpec `json:"spec,omitempty"`

	// +optional
	Status BrokerStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*Broker)(nil)
	_ apis.Defaultable   = (*Broker)(nil)
	_ kmeta.OwnerRefable = (*Broker)(nil)
	_ duckv1.KRShaped    = (*Broker)(nil)
)

// BrokerSpec is what a user asks of a Broker.
type BrokerSpec struct {
	// Config names an object configuring the Broker's implementation.
	// Flywheel's needs none; it is kept as given, and immutable, as in
	// Knative.
	// +optional
	Config *duckv1.KReference `json:"config,omitempty"`

	// Delivery is the default DeliverySpec of the Broker's Triggers.
	// +optional
	Delivery *DeliverySpec `json:"delivery,omitempty"`
}

// BrokerStatus is what the platform observed of a Broker.
type BrokerStatus struct {
	duckv1.Status `json:",inline"`

	// Address is where producers post events.
	duckv1.AddressStatus `json:",inline"`

	// DeliveryStatus holds the Broker's dead-letter sink, resolved.
	DeliveryStatus `json:",inline"`
}

// BrokerList is a list of Brokers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type BrokerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Broker `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*Broker) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("Broker")
}

// GetStatus implements duckv1.KRShaped.
func (b *Broker) GetStatus() *duckv1.Status { return &b.Status.Status }
