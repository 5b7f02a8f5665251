package adapter

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/sources/apiserver"
)

func TestControlledBy(t *testing.T) {
	replicaSets := &apiserver.Owner{APIVersion: "apps/v1", Kind: "ReplicaSet"}
	ref := func(apiVersion, kind string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: "owner", UID: "uid", Controller: ptr.To(controller)}
	}
	tests := []struct {
		name  string
		owner *apiserver.Owner
		refs  []metav1.OwnerReference
		want  bool
	}{{
		name: "no owner filter: every object",
		want: true,
	}, {
		name:  "controlled by the kind",
		owner: replicaSets,
		refs:  []metav1.OwnerReference{ref("apps/v1", "ReplicaSet", true)},
		want:  true,
	}, {
		name:  "no owner at all",
		owner: replicaSets,
	}, {
		name:  "owned by the kind, but not as its controller",
		owner: replicaSets,
		refs:  []metav1.OwnerReference{ref("apps/v1", "ReplicaSet", false)},
	}, {
		name:  "controlled by another kind",
		owner: replicaSets,
		refs:  []metav1.OwnerReference{ref("batch/v1", "Job", true), ref("apps/v1", "ReplicaSet", false)},
	}, {
		name:  "controlled by the kind of another version",
		owner: replicaSets,
		refs:  []metav1.OwnerReference{ref("apps/v1beta2", "ReplicaSet", true)},
	}, {
		name:  "an owner filter with a kind only matches any version",
		owner: &apiserver.Owner{Kind: "ReplicaSet"},
		refs:  []metav1.OwnerReference{ref("apps/v1beta2", "ReplicaSet", true)},
		want:  true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := &metav1.ObjectMeta{Name: "pod", OwnerReferences: tc.refs}
			if got := controlledBy(obj, tc.owner); got != tc.want {
				t.Errorf("controlledBy = %v, want %v", got, tc.want)
			}
		})
	}
}
