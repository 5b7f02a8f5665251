package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// PingSource sends the same event to its sink at every tick of a cron
// schedule.
//
// +genclient
// +genreconciler
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all;knative;sources
// +kubebuilder:printcolumn:name="Sink",type=string,JSONPath=".status.sinkUri"
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=".spec.schedule"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].reason"
type PingSource struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec PingSourceSpec `json:"spec,omitempty"`

	// +optional
	Status PingSourceStatus `json:"status,omitempty"`
}

var (
	_ apis.Validatable   = (*PingSource)(nil)
	_ apis.Defaultable   = (*PingSource)(nil)
	_ kmeta.OwnerRefable = (*PingSource)(nil)
	_ duckv1.KRShaped    = (*PingSource)(nil)
)

// PingSourceSpec is what a user asks of a PingSource.
type PingSourceSpec struct {
	// SourceSpec holds the sink the events go to and the CloudEvents
	// extensions added to each of them.
	duckv1.SourceSpec `json:",inline"`

	// Schedule is when to send, in standard cron syntax (minute hour
	// day-of-month month day-of-week), optionally led by CRON_TZ=<zone>.
	// Every minute when empty.
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Timezone is the IANA time zone (Europe/Berlin) the schedule is read
	// in. UTC when neither it nor a CRON_TZ= prefix is given.
	// +optional
	Timezone string `json:"timezone,omitempty"`

	// ContentType is the media type of the event's data, its
	// datacontenttype attribute.
	// +optional
	ContentType string `json:"contentType,omitempty"`

	// Data is the event's data, as text. At most one of data and
	// dataBase64 is set.
	// +optional
	Data string `json:"data,omitempty"`

	// DataBase64 is the event's data as base64, for data that is not text.
	// +optional
	DataBase64 string `json:"dataBase64,omitempty"`
}

// PingSourceStatus is what the platform observed of a PingSource.
type PingSourceStatus struct {
	// SourceStatus holds the conditions, the resolved sink and the
	// attributes of the events sent.
	duckv1.SourceStatus `json:",inline"`
}

// PingSourceList is a list of PingSources.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type PingSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PingSource `json:"items"`
}

// GetGroupVersionKind implements kmeta.OwnerRefable.
func (*PingSource) GetGroupVersionKind() schema.GroupVersionKind {
	return SchemeGroupVersion.WithKind("PingSource")
}

// GetStatus implements duckv1.KRShaped.
func (p *PingSource) GetStatus() *duckv1.Status { return &p.Status.Status }
