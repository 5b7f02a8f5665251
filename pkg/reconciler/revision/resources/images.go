package resources

import (
	"net"
	"net/netip"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// ResolvesTags reports whether the pods of a Revision of image run it by
// the digest its tag was resolved to when the Revision was new. They do
// for a registry's image, unless the registry is in
// registries-skipping-tag-resolving; local executables, and whatever does
// not parse as a reference, run as written, as do images of a registry
// on loopback (localhost:5000/app): that registry is the node's, which the
// controller, in a pod of its own, cannot reach, and the node reports the
// digest it pulled instead.
//
// The same rule decides, before a Revision's Deployment exists, which
// images are resolved, and, each time the Deployment is built, which
// recorded digests it runs. A digest the node reported later for an image
// this rule leaves alone is a record: it never reaches the pod template,
// whose images are therefore final when the Deployment is created.
func ResolvesTags(image string, cfg *config.Deployment) bool {
	if serving.LocalImage(image) {
		return false
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return false
	}
	registry := ref.Context().RegistryStr()
	return !slices.Contains(cfg.RegistriesSkippingTagResolving, registry) && !loopbackRegistry(registry)
}

// loopbackRegistry reports whether registry (host[:port]) is on loopback.
func loopbackRegistry(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
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
