package v1

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/serving"
)

// setUserInfo records who created an object and who last changed its
// spec, from the user of the admission request. On create it sets both
// annotations. On update it sets lastModifier only when the spec changed,
// so a label or status change does not steal the credit.
//
// A Configuration or Route that a Service controls keeps the annotations
// the Service reconciler copied from the Service: the person who changed
// the Service is the one to name, not the controller's service account.
func setUserInfo(ctx context.Context, oldSpec, newSpec any, meta *metav1.ObjectMeta) {
	ui := apis.GetUserInfo(ctx)
	if ui == nil || ui.Username == "" {
		return
	}
	if controlledByService(meta) {
		if _, ok := serving.CreatorAnnotation.Get(meta.Annotations); ok {
			return
		}
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	if apis.IsInUpdate(ctx) {
		if oldSpec != nil && !equality.Semantic.DeepEqual(oldSpec, newSpec) {
			meta.Annotations[serving.LastModifierAnnotation.String()] = ui.Username
		}
		return
	}
	meta.Annotations[serving.CreatorAnnotation.String()] = ui.Username
	meta.Annotations[serving.LastModifierAnnotation.String()] = ui.Username
}

func controlledByService(meta *metav1.ObjectMeta) bool {
	ref := metav1.GetControllerOf(meta)
	return ref != nil && ref.Kind == "Service" && strings.HasPrefix(ref.APIVersion, serving.GroupName+"/")
}

// validateCreatorUnchanged refuses an update that rewrites who created the
// object: the annotation is a record, not a setting.
func validateCreatorUnchanged(ctx context.Context, meta *metav1.ObjectMeta) *apis.FieldError {
	base, ok := baseline[metav1.Object](ctx)
	if !ok {
		return nil
	}
	key := serving.CreatorAnnotation
	old, _ := key.Get(base.GetAnnotations())
	now, _ := key.Get(meta.Annotations)
	if old == now {
		return nil
	}
	return &apis.FieldError{
		Message: fmt.Sprintf("annotation value is immutable: %q was %q", now, old),
		Paths:   []string{"metadata.annotations[" + key.String() + "]"},
		Details: "the creator is recorded by the platform; remove your change to " + key.String(),
	}
}

// validateName holds the name of a Service, Configuration, Route or
// Revision to a DNS-1035 label: each becomes part of a hostname or a
// Kubernetes Service name, which are held to that rule.
func validateName(meta *metav1.ObjectMeta) *apis.FieldError {
	if meta.Name == "" && meta.GenerateName != "" {
		// The API server appends five characters to generateName.
		if errs := validation.IsDNS1035Label(strings.TrimSuffix(meta.GenerateName, "-") + "abcde"); len(errs) > 0 {
			return invalidName(meta.GenerateName, "generateName", errs)
		}
		return nil
	}
	if errs := validation.IsDNS1035Label(meta.Name); len(errs) > 0 {
		return invalidName(meta.Name, "name", errs)
	}
	return nil
}

func invalidName(value, field string, errs []string) *apis.FieldError {
	return &apis.FieldError{
		Message: fmt.Sprintf("invalid value: %q", value),
		Paths:   []string{field},
		Details: "must be a DNS-1035 label (it becomes part of a hostname): " + strings.Join(errs, "; "),
	}
}
