package revision

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/reconciler/revision/resources"
)

// DigestResolver turns a container image into the digest it names today,
// so that a Revision keeps running the same bytes however its tag moves.
type DigestResolver interface {
	// Resolve returns image pinned by digest (repository@sha256:…), or ""
	// when the image is not one Flywheel resolves (ko://, a path, a
	// registry configured to be skipped): the pods then run the image as
	// written, and the digest the node reports is recorded. auth holds
	// the credentials the Revision's pods would pull with.
	Resolve(ctx context.Context, image string, auth authn.Keychain, cfg *config.Deployment) (string, error)
}

// RegistryResolver resolves tags through the image's registry, with the
// keychain each call brings.
type RegistryResolver struct {
	// Options are passed to every registry request (the transport in
	// tests).
	Options []remote.Option
}

var _ DigestResolver = RegistryResolver{}

// Resolve implements DigestResolver.
func (r RegistryResolver) Resolve(ctx context.Context, image string, auth authn.Keychain, cfg *config.Deployment) (string, error) {
	if serving.LocalImage(image) {
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
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(auth)}, r.Options...)
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		// A HEAD answer has no body to say why (UNAUTHORIZED, …), and
		// some registries answer only GET: GET says it, or succeeds.
		got, getErr := remote.Get(ref, opts...)
		if getErr != nil {
			return "", fmt.Errorf("resolving image %q to a digest: %w", image, getErr)
		}
		desc = &got.Descriptor
	}
	return ref.Context().Digest(desc.Digest.String()).String(), nil
}
