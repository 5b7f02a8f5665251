package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// ContainerSource runs a pod template that produces events, as a
// Deployment bound to the sink through a SinkBinding: its containers find
// the sink's URL in K_SINK.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all;knative;sources
// +kubebuilder:printcolumn:name="Sink",type=string,JSONPath=".status.sinkUri"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type ContainerSource struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec ContainerSourceSpec `json:"spec,omitempty"`

	// +optional
	Status ContainerSourceStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*ContainerSource)(nil)
	_ apis.Defaultable   = (*ContainerSource)(nil)
	_ kmeta.OwnerRefable = (*ContainerSource)(nil)
	_ duckv1.KRShaped    = (*ContainerSource)(nil)
)

// ContainerSourceSpec is what a user asks of a ContainerSource.
type ContainerSourceSpec struct {
	// SourceSpec holds the sink the containers send to and the CloudEvents
	// extensions they are asked to add.
	duckv1.SourceSpec `json:",inline"`

	// Template is the pod the source runs: at least one container, each
	// with an image.
	Template corev1.PodTemplateSpec `json:"template"`
}

// ContainerSourceStatus is what the platform observed of a
// ContainerSource.
type ContainerSourceStatus struct {
	// SourceStatus holds the conditions and, from the source's
	// SinkBinding, the resolved sink.
	duckv1.SourceStatus `json:",inline"`
}

// ContainerSourceList is a list of ContainerSources.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ContainerSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ContainerSource `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*ContainerSource) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("ContainerSource")
}

// GetStatus implements duckv1.KRShaped.
func (cs *ContainerSource) GetStatus() *duckv1.Status { return &cs.Status.Status }
