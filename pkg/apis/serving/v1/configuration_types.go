package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// Configuration keeps the desired state of a workload's code and settings
// and creates a new Revision each time its template changes.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=config;cfg,categories=all;knative;serving
// +kubebuilder:printcolumn:name="LatestCreated",type=string,JSONPath=".status.latestCreatedRevisionName"
// +kubebuilder:printcolumn:name="LatestReady",type=string,JSONPath=".status.latestReadyRevisionName"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type Configuration struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec ConfigurationSpec `json:"spec,omitempty"`

	// +optional
	Status ConfigurationStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*Configuration)(nil)
	_ apis.Defaultable   = (*Configuration)(nil)
	_ kmeta.OwnerRefable = (*Configuration)(nil)
	_ duckv1.KRShaped    = (*Configuration)(nil)
)

// ConfigurationSpec holds the template of the Revisions to create.
type ConfigurationSpec struct {
	// +optional
	Template RevisionTemplateSpec `json:"template"`
}

// ConfigurationStatusFields are the status fields a Configuration shares
// with the Service that owns it.
type ConfigurationStatusFields struct {
	// LatestReadyRevisionName is the newest Revision of this Configuration
	// that became ready.
	// +optional
	LatestReadyRevisionName string `json:"latestReadyRevisionName,omitempty"`

	// LatestCreatedRevisionName is the newest Revision of this
	// Configuration, ready or not.
	// +optional
	LatestCreatedRevisionName string `json:"latestCreatedRevisionName,omitempty"`
}

// ConfigurationStatus is what the platform observed of a Configuration.
type ConfigurationStatus struct {
	duckv1.Status             `json:",inline"`
	ConfigurationStatusFields `json:",inline"`
}

// ConfigurationList is a list of Configurations.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Configuration `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*Configuration) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("Configuration")
}

// GetStatus implements duckv1.KRShaped.
func (c *Configuration) GetStatus() *duckv1.Status { return &c.Status.Status }
