package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// Revision is an immutable snapshot of code and configuration. A
// Configuration stamps out a new Revision each time its template changes.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rev,categories=all;knative;serving
// +kubebuilder:printcolumn:name="Config Name",type=string,JSONPath=".metadata.labels['serving\\.knative\\.dev/configuration']"
// +kubebuilder:printcolumn:name="Generation",type=string,JSONPath=".metadata.labels['serving\\.knative\\.dev/configurationGeneration']"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
// +kubebuilder:printcolumn:name="Actual Replicas",type=integer,JSONPath=".status.actualReplicas"
// +kubebuilder:printcolumn:name="Desired Replicas",type=integer,JSONPath=".status.desiredReplicas"
type Revision struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the code and configuration this Revision runs. It cannot
	// change after creation.
	// +optional
	Spec RevisionSpec `json:"spec,omitempty"`

	// +optional
	Status RevisionStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*Revision)(nil)
	_ apis.Defaultable   = (*Revision)(nil)
	_ kmeta.OwnerRefable = (*Revision)(nil)
	_ duckv1.KRShaped    = (*Revision)(nil)
)

// RevisionTemplateSpec describes the Revisions a Configuration creates.
type RevisionTemplateSpec struct {
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +optional
	Spec RevisionSpec `json:"spec,omitempty"`
}

// RevisionSpec is a pod spec (the subset validation allows) plus the
// request-level settings the queue-proxy sidecar enforces.
type RevisionSpec struct {
	corev1.PodSpec `json:",inline"`

	// ContainerConcurrency is the most requests one pod of this Revision
	// handles at once; 0 means no limit.
	// +optional
	ContainerConcurrency *int64 `json:"containerConcurrency,omitempty"`

	// TimeoutSeconds is the most time a request may wait, from its arrival,
	// for its response to start; a response that has started may stream
	// past it, bounded only by IdleTimeoutSeconds.
	// +optional
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`

	// ResponseStartTimeoutSeconds is the most time a request may wait for
	// the first byte of its response.
	// +optional
	ResponseStartTimeoutSeconds *int64 `json:"responseStartTimeoutSeconds,omitempty"`

	// IdleTimeoutSeconds is the most time a response may go without
	// sending a byte.
	// +optional
	IdleTimeoutSeconds *int64 `json:"idleTimeoutSeconds,omitempty"`
}

// RevisionStatus is what the platform observed of a Revision.
type RevisionStatus struct {
	duckv1.Status `json:",inline"`

	// LogURL points at the Revision's logs, when a log store is configured.
	// +optional
	LogURL string `json:"logUrl,omitempty"`

	// ContainerStatuses holds the resolved image digest of each container,
	// in the order of the spec.
	// +optional
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`

	// InitContainerStatuses is ContainerStatuses for init containers.
	// +optional
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`

	// ActualReplicas is the number of ready pods.
	// +optional
	ActualReplicas *int32 `json:"actualReplicas,omitempty"`

	// DesiredReplicas is the number of pods the autoscaler asks for.
	// +optional
	DesiredReplicas *int32 `json:"desiredReplicas,omitempty"`

	// ResourceRecommendation is the Vertical Pod Autoscaler's advice on
	// the serving container's requests, for a Revision with right-sizing
	// advice on (autoscaling.flywheel.dev/right-sizing: advise), once the
	// recommender has made one.
	// +optional
	ResourceRecommendation *ResourceRecommendation `json:"resourceRecommendation,omitempty"`
}

// ResourceRecommendation is what a Vertical Pod Autoscaler recommends for
// the requests of one container, from the usage it observed. It is advice:
// nothing applies it to the running pods.
type ResourceRecommendation struct {
	// ContainerName is the container advised: the one serving requests.
	ContainerName string `json:"containerName"`
	// Target is the recommended requests.
	// +optional
	Target corev1.ResourceList `json:"target,omitempty"`
	// LowerBound is the least the recommender holds safe to request;
	// below it the container would likely be starved.
	// +optional
	LowerBound corev1.ResourceList `json:"lowerBound,omitempty"`
	// UpperBound is the most the recommender holds useful to request;
	// above it the resources would likely go unused.
	// +optional
	UpperBound corev1.ResourceList `json:"upperBound,omitempty"`
}

// ContainerStatus is the image a container of a Revision was pinned to.
type ContainerStatus struct {
	Name string `json:"name,omitempty"`
	// ImageDigest is the image reference resolved to a digest, so that
	// every pod of the Revision runs the same code.
	ImageDigest string `json:"imageDigest,omitempty"`
}

// RevisionList is a list of Revisions.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type RevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Revision `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*Revision) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("Revision")
}

// GetStatus implements duckv1.KRShaped.
func (r *Revision) GetStatus() *duckv1.Status { return &r.Status.Status }
