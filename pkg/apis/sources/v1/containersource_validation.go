package v1

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"knative.dev/pkg/apis"
)

// Validate checks a ContainerSource: a template with at least one
// container, each with an image and a unique, valid name; a sink; valid
// CloudEvents overrides. The rest of the pod template is checked by the
// API server when the source's Deployment is made from it.
func (cs *ContainerSource) Validate(ctx context.Context) *apis.FieldError {
	errs := validateContainers(cs.Spec.Template.Spec.Containers).ViaField("template", "spec")
	errs = errs.Also(validateSourceSpec(ctx, &cs.Spec.SourceSpec))
	return errs.ViaField("spec")
}

func validateContainers(containers []corev1.Container) *apis.FieldError {
	if len(containers) == 0 {
		return &apis.FieldError{
			Message: "at least one container is required",
			Paths:   []string{"containers"},
			Details: "add a container with the image that produces the events",
		}
	}
	var errs *apis.FieldError
	seen := map[string]int{}
	for i, c := range containers {
		if c.Image == "" {
			errs = errs.Also((&apis.FieldError{
				Message: "missing field(s)",
				Paths:   []string{"image"},
				Details: "set the image that produces the events",
			}).ViaFieldIndex("containers", i))
		}
		if c.Name == "" {
			// The webhook names every container; this is only reached
			// when validation runs without the defaults.
			continue
		}
		if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
			errs = errs.Also((&apis.FieldError{
				Message: fmt.Sprintf("invalid value %q: %s", c.Name, strings.Join(msgs, "; ")),
				Paths:   []string{"name"},
				Details: "use lower-case letters, digits and '-', or remove the name to have one given",
			}).ViaFieldIndex("containers", i))
		}
		if first, ok := seen[c.Name]; ok {
			errs = errs.Also((&apis.FieldError{
				Message: fmt.Sprintf("container name %q is also the name of containers[%d]", c.Name, first),
				Paths:   []string{"name"},
				Details: "give each container its own name",
			}).ViaFieldIndex("containers", i))
		} else {
			seen[c.Name] = i
		}
	}
	return errs
}
