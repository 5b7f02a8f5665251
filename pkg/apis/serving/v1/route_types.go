package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// Route gives a stable URL to a set of Revisions and splits its traffic
// between them by percent and by tag.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rt,categories=all;knative;serving
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=".status.url"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type Route struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec RouteSpec `json:"spec,omitempty"`

	// +optional
	Status RouteStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*Route)(nil)
	_ apis.Defaultable   = (*Route)(nil)
	_ kmeta.OwnerRefable = (*Route)(nil)
	_ duckv1.KRShaped    = (*Route)(nil)
)

// TrafficTarget sends a share of a Route's traffic to one Revision, named
// directly or as the latest ready Revision of a Configuration.
type TrafficTarget struct {
	// Tag gives this target its own URL and header value in addition to
	// its share of the main URL.
	// +optional
	Tag string `json:"tag,omitempty"`

	// RevisionName names the Revision to send traffic to.
	// +optional
	RevisionName string `json:"revisionName,omitempty"`

	// ConfigurationName sends traffic to the latest ready Revision of this
	// Configuration. Only a Route's own spec may use it; a Service's
	// targets always refer to its own Configuration.
	// +optional
	ConfigurationName string `json:"configurationName,omitempty"`

	// LatestRevision, when true, makes the target follow the latest ready
	// Revision; when false, RevisionName must be set.
	// +optional
	LatestRevision *bool `json:"latestRevision,omitempty"`

	// Percent is this target's share of the main URL's traffic. The
	// percents of a Route add up to 100.
	// +optional
	Percent *int64 `json:"percent,omitempty"`

	// URL is the tag's own URL. Only status sets it.
	// +optional
	URL *apis.URL `json:"url,omitempty"`
}

// RouteSpec is the traffic split of a Route.
type RouteSpec struct {
	// +optional
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// RouteStatusFields are the status fields a Route shares with the Service
// that owns it.
type RouteStatusFields struct {
	// URL is where the Route is reached from outside the cluster (or,
	// cluster-local, from inside it).
	// +optional
	URL *apis.URL `json:"url,omitempty"`

	// Address is where the Route is reached from inside the cluster.
	// +optional
	Address *duckv1.Addressable `json:"address,omitempty"`

	// Traffic is the split as served, with configurations resolved to
	// Revision names and tags to URLs.
	// +optional
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// RouteStatus is what the platform observed of a Route.
type RouteStatus struct {
	duckv1.Status     `json:",inline"`
	RouteStatusFields `json:",inline"`
}

// RouteList is a list of Routes.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type RouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Route `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*Route) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("Route")
}

// GetStatus implements duckv1.KRShaped.
func (r *Route) GetStatus() *duckv1.Status { return &r.Status.Status }
