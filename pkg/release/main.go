package release

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"flywheel.dev/config"
)

// Usage is what Main prints for arguments it does not take.
const Usage = `usage:
  release base --repository REPO [--platform P[,P…]] [--ca-certificates FILE]
      make the base image, push it to REPO, print it by digest
  release manifests
      print the release's manifest with ko:// images, for ko resolve
  release check --repository REPO FILE
      check that FILE, resolved by ko, names only images of REPO by digest`

// Main runs the release command of hack/release.sh with args (the
// command's arguments, without its name), writing results to stdout.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(Usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	repo := fs.String("repository", "", "the repository images go to")
	platforms := fs.String("platform", "linux/amd64", "the platforms, comma separated")
	caCertificates := fs.String("ca-certificates", CACertificatesPath, "the CA bundle the base image carries")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "base":
		if *repo == "" {
			return errors.New("base: --repository is required")
		}
		ref, err := pushBase(ctx, *repo, *platforms, *caCertificates)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, ref)
		return err
	case "manifests":
		objs, err := Manifests()
		if err != nil {
			return err
		}
		b, err := WriteYAML(objs)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	case "check":
		if *repo == "" || fs.NArg() != 1 {
			return errors.New("check: --repository and one file are required")
		}
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		objs, err := config.Decode(b)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		return CheckResolved(objs, *repo)
	}
	return errors.New(Usage)
}

// pushBase makes the base image for platforms (a comma-separated list),
// pushes it to repo, and returns it by digest.
func pushBase(ctx context.Context, repo, platforms, caCertificates string) (string, error) {
	var ps []v1.Platform
	for _, s := range strings.Split(platforms, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil {
			return "", err
		}
		ps = append(ps, *p)
	}
	certs, err := os.ReadFile(caCertificates)
	if err != nil {
		return "", fmt.Errorf("reading the CA certificates for the base image: %w", err)
	}
	idx, err := BaseImage(ps, certs)
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(repo)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing the base image to %s: %w", tag, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return tag.Context().Digest(digest.String()).String(), nil
}
