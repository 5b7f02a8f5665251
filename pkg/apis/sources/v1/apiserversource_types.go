package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// ApiServerSource sends an event for each change to the Kubernetes objects
// it watches: added, updated, deleted. Its adapter watches with the
// source's service account, so it sees only what that account may list
// and watch.
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
type ApiServerSource struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec ApiServerSourceSpec `json:"spec,omitempty"`

	// +optional
	Status ApiServerSourceStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*ApiServerSource)(nil)
	_ apis.Defaultable   = (*ApiServerSource)(nil)
	_ kmeta.OwnerRefable = (*ApiServerSource)(nil)
	_ duckv1.KRShaped    = (*ApiServerSource)(nil)
)

// ApiServerSourceSpec is what a user asks of an ApiServerSource.
type ApiServerSourceSpec struct {
	// SourceSpec holds the sink the events go to and the CloudEvents
	// extensions added to each of them.
	duckv1.SourceSpec `json:",inline"`

	// Resources are the kinds of object to watch, each optionally narrowed
	// by a label selector. At least one is required.
	// +optional
	Resources []APIVersionKindSelector `json:"resources,omitempty"`

	// Owner narrows the watched objects to those with an owner reference
	// of this kind.
	// +optional
	Owner *APIVersionKind `json:"owner,omitempty"`

	// Mode is what each event carries: Reference (the default) a reference
	// to the object, Resource the whole object.
	// +optional
	Mode EventMode `json:"mode,omitempty"`

	// ServiceAccountName is the account the adapter watches with, in the
	// source's namespace; "default" when empty. It needs get, list and
	// watch on every resource watched.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// NamespaceSelector widens the watch to every namespace whose labels
	// match; without it only the source's own namespace is watched.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// APIVersionKind names a kind of object.
type APIVersionKind struct {
	// APIVersion is the kind's group and version, such as apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind is the kind's name, such as Deployment.
	// +optional
	Kind string `json:"kind,omitempty"`
}

// APIVersionKindSelector names a kind of object to watch, and optionally
// the labels its objects must have.
type APIVersionKindSelector struct {
	// APIVersion is the kind's group and version, such as apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind is the kind's name, such as Deployment.
	// +optional
	Kind string `json:"kind,omitempty"`

	// Selector narrows the watch to the objects whose labels match.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// EventMode is what the events of an ApiServerSource carry.
type EventMode string

// The modes of an ApiServerSource.
const (
	// EventModeReference events carry a reference to the object (its
	// apiVersion, kind, namespace and name).
	EventModeReference EventMode = "Reference"
	// EventModeResource events carry the whole object.
	EventModeResource EventMode = "Resource"
)

// ApiServerSourceStatus is what the platform observed of an
// ApiServerSource.
type ApiServerSourceStatus struct {
	// SourceStatus holds the conditions, the resolved sink and the
	// attributes of the events sent.
	duckv1.SourceStatus `json:",inline"`

	// Namespaces are the namespaces being watched.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// ApiServerSourceList is a list of ApiServerSources.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ApiServerSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApiServerSource `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*ApiServerSource) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("ApiServerSource")
}

// GetStatus implements duckv1.KRShaped.
func (a *ApiServerSource) GetStatus() *duckv1.Status { return &a.Status.Status }
