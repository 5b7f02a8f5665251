// Package childmeta keeps the labels and annotations a reconciler sets on
// an object it owns, while leaving those others added (kubectl, another
// controller) in place.
package childmeta

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"
)

// Carries reports whether have carries every label and annotation want
// sets, with want's values; have may carry others.
func Carries(want, have metav1.ObjectMeta) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	for k, v := range want.Annotations {
		if have.Annotations[k] != v {
			return false
		}
	}
	return true
}

// Merge sets want's labels and annotations on obj, keeping the others obj
// has.
func Merge(obj *metav1.ObjectMeta, want metav1.ObjectMeta) {
	obj.Labels = kmeta.UnionMaps(obj.Labels, want.Labels)
	obj.Annotations = kmeta.UnionMaps(obj.Annotations, want.Annotations)
}
