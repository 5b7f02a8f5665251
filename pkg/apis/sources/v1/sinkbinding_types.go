package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// SinkBinding points the pods of its subjects at its sink: the containers
// of each subject's pod template get K_SINK, the sink's URL, and
// K_CE_OVERRIDES, the CloudEvents overrides as JSON. Any object with a
// pod template can be a subject (a Deployment, a Job, a Knative Service);
// the variables go when the binding does.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all;knative;sources;bindings
// +kubebuilder:printcolumn:name="Sink",type=string,JSONPath=".status.sinkUri"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type SinkBinding struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec SinkBindingSpec `json:"spec,omitempty"`

	// +optional
	Status SinkBindingStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*SinkBinding)(nil)
	_ apis.Defaultable   = (*SinkBinding)(nil)
	_ kmeta.OwnerRefable = (*SinkBinding)(nil)
	_ duckv1.KRShaped    = (*SinkBinding)(nil)
)

// SinkBindingSpec is what a user asks of a SinkBinding.
type SinkBindingSpec struct {
	// SourceSpec holds the sink the subjects' pods send to and the
	// CloudEvents extensions they are asked to add.
	duckv1.SourceSpec `json:",inline"`

	// BindingSpec holds the subject: one object by name, or every object
	// of a kind whose labels match a selector, in the binding's namespace.
	duckv1.BindingSpec `json:",inline"`
}

// SinkBindingStatus is what the platform observed of a SinkBinding.
type SinkBindingStatus struct {
	// SourceStatus holds the conditions and the resolved sink.
	duckv1.SourceStatus `json:",inline"`
}

// SinkBindingList is a list of SinkBindings.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type SinkBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SinkBinding `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*SinkBinding) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("SinkBinding")
}

// GetStatus implements duckv1.KRShaped.
func (sb *SinkBinding) GetStatus() *duckv1.Status { return &sb.Status.Status }
