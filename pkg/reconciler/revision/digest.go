package revision

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/reconciler/revision/resources"
)

// DigestResolver turns a container image into the digest it names today,
// so that a Revision keeps running the same bytes however its tag moves.
type DigestResolver interface {
	// Resolve returns image pinned by digest (repository@sha256:…), or ""
	// when the image is not one Flywheel resolves (ko://, a path, a
	// registry configured to be skipped): the pods then run the image as
	// written, and the digest the node reports is recorded.
	Resolve(ctx context.Context, image string, cfg *config.Deployment) (string, error)
}

// RegistryResolver resolves tags through the image's registry, with
// anonymous access unless options say otherwise.
type RegistryResolver struct {
	// Options are passed to every registry request (transport, auth).
	Options []remote.Option
}

var _ DigestResolver = RegistryResolver{}

// Resolve implements DigestResolver.
func (r RegistryResolver) Resolve(ctx context.Context, image string, cfg *config.Deployment) (string, error) {
	if resources.LocalImage(image) {
		return "", nil // local mode's executables: the node reports their digest
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid reference: %w", image, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d.String(), nil
	}
	if !resources.ResolvesTags(image, cfg) {
		return "", nil // a skipped registry: its pods run the tag
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DigestResolutionTimeout)
	defer cancel()
	desc, err := remote.Head(ref, append([]remote.Option{remote.WithContext(ctx)}, r.Options...)...)
	if err != nil {
		return "", fmt.Errorf("resolving image %q to a digest: %w", image, err)
	}
	return ref.Context().Digest(desc.Digest.String()).String(), nil
}
