package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// PodAutoscaler scales one Revision's Deployment. The Revision reconciler
// creates it and copies the autoscaling.knative.dev annotations onto it; the
// annotation autoscaling.knative.dev/class picks which autoscaler acts on it.
//
// +genclient
// +genreconciler:class=autoscaling.knative.dev/class
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kpa;pa,categories=all;knative;serving;autoscaling
// +kubebuilder:printcolumn:name="DesiredScale",type=integer,JSONPath=".status.desiredScale"
// +kubebuilder:printcolumn:name="ActualScale",type=integer,JSONPath=".status.actualScale"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type PodAutoscaler struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec PodAutoscalerSpec `json:"spec,omitempty"`

	// +optional
	Status PodAutoscalerStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*PodAutoscaler)(nil)
	_ apis.Defaultable   = (*PodAutoscaler)(nil)
	_ kmeta.OwnerRefable = (*PodAutoscaler)(nil)
	_ duckv1.KRShaped    = (*PodAutoscaler)(nil)
)

// ReachabilityType says whether any Route sends traffic to the Revision.
type ReachabilityType string

const (
	// ReachabilityUnknown means the routes have not been looked at yet.
	ReachabilityUnknown ReachabilityType = ""
	// ReachabilityReachable means a Route sends traffic to the Revision, so
	// min-scale applies.
	ReachabilityReachable ReachabilityType = "Reachable"
	// ReachabilityUnreachable means no Route does, so the Revision may
	// scale to zero whatever its min-scale says.
	ReachabilityUnreachable ReachabilityType = "Unreachable"
)

// ProtocolType is the protocol the Revision's pods speak.
type ProtocolType string

const (
	// ProtocolHTTP1 is HTTP/1.1 (and plain-text upgrades such as WebSocket).
	ProtocolHTTP1 ProtocolType = "http1"
	// ProtocolH2C is HTTP/2 without TLS, as gRPC uses.
	ProtocolH2C ProtocolType = "h2c"
)

// PodAutoscalerSpec is what to scale and how much each pod can take.
type PodAutoscalerSpec struct {
	// ScaleTargetRef is the Deployment to scale.
	ScaleTargetRef corev1.ObjectReference `json:"scaleTargetRef"`

	// ContainerConcurrency is the Revision's hard per-pod limit; 0 means
	// none.
	// +optional
	ContainerConcurrency int64 `json:"containerConcurrency,omitempty"`

	// Reachability says whether a Route sends traffic to the Revision.
	// +optional
	Reachability ReachabilityType `json:"reachability,omitempty"`

	// ProtocolType is the protocol of the Revision's pods.
	// +optional
	ProtocolType ProtocolType `json:"protocolType,omitempty"`
}

// PodAutoscalerStatus is what the autoscaler decided and observed.
type PodAutoscalerStatus struct {
	duckv1.Status `json:",inline"`

	// ServiceName is the public Service whose endpoints switch between the
	// activator and the pods.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`

	// MetricsServiceName is the private Service that selects the pods the
	// autoscaler scrapes.
	// +optional
	MetricsServiceName string `json:"metricsServiceName,omitempty"`

	// DesiredScale is the number of pods the autoscaler asks for.
	// +optional
	DesiredScale *int32 `json:"desiredScale,omitempty"`

	// ActualScale is the number of ready pods.
	// +optional
	ActualScale *int32 `json:"actualScale,omitempty"`
}

// PodAutoscalerList is a list of PodAutoscalers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type PodAutoscalerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PodAutoscaler `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*PodAutoscaler) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("PodAutoscaler")
}

// GetStatus implements duckv1.KRShaped.
func (pa *PodAutoscaler) GetStatus() *duckv1.Status { return &pa.Status.Status }
