package resources

import (
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/apis/config"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// LocalImage reports whether image names an executable the node builds or
// finds itself (ko://…, an absolute path) rather than a registry's image.
func LocalImage(image string) bool {
	return strings.Contains(image, "://") || strings.HasPrefix(image, "/")
}

// ResolvesTags reports whether the pods of a Revision of image run it by
// the digest its tag was resolved to when the Revision was new. They do
// for a registry's image, unless the registry is in
// registries-skipping-tag-resolving; local executables, and whatever does
// not parse as a reference, run as written.
//
// The same rule decides, before a Revision's Deployment exists, which
// images are resolved, and, each time the Deployment is built, which
// recorded digests it runs. A digest the node reported later for an image
// this rule leaves alone is a record: it never reaches the pod template,
// whose images are therefore final when the Deployment is created.
func ResolvesTags(image string, cfg *config.Deployment) bool {
	if LocalImage(image) {
		return false
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return false
	}
	return !slices.Contains(cfg.RegistriesSkippingTagResolving, ref.Context().RegistryStr())
}

// pinImages runs each container whose tag Flywheel resolves by the digest
// resolved for it. The other containers keep the image as the Revision
// gives it, whatever digest the node has since reported for it.
func pinImages(ps *corev1.PodSpec, statuses []v1.ContainerStatus, cfg *config.Deployment) {
	for _, s := range statuses {
		if s.ImageDigest == "" {
			continue
		}
		for i := range ps.Containers {
			if c := &ps.Containers[i]; c.Name == s.Name && ResolvesTags(c.Image, cfg) {
				c.Image = s.ImageDigest
			}
		}
	}
}
