package adapter

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"flywheel.dev/pkg/sources/apiserver"
)

// controlledBy reports whether obj's controller (its owner reference with
// controller: true) is of owner's apiVersion and kind; a nil owner keeps
// every object. Only the controller counts, as in Knative: spec.owner
// means "objects that a kind of object manages", such as the Pods of
// ReplicaSets, and an object lists other owners for garbage collection
// only. An empty apiVersion or kind matches any.
func controlledBy(obj metav1.Object, owner *apiserver.Owner) bool {
	if owner == nil {
		return true
	}
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return false
	}
	return (owner.APIVersion == "" || owner.APIVersion == ref.APIVersion) &&
		(owner.Kind == "" || owner.Kind == ref.Kind)
}
