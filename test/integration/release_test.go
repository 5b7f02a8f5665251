//go:build integration

package integration

import (
	"archive/tar"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"flywheel.dev/pkg/manifest"
	"flywheel.dev/pkg/node/imagetest"
	"flywheel.dev/pkg/release"
	"flywheel.dev/pkg/release/releasetest"
)

// releasePlatforms is what the test releases for: this machine's
// platform alone. A second platform would compile every dependency again
// for it, cold, which costs more than the whole integration layer on two
// cores; ko's index of several platforms is its own business, and
// pkg/release's base index is unit-tested with two.
var releasePlatforms = []string{"linux/" + runtime.GOARCH}

// TestReleaseIntoARegistry runs hack/release.sh, as a user would, into a
// registry on loopback (go-containerregistry's own, in this process, as
// pkg/node/imagetest serves it) and checks what it made: flywheel.yaml
// names every image Flywheel runs by a digest that registry serves, for
// every platform asked, with its program as entrypoint, the base's
// nonroot user and its files; and every object of flywheel.yaml passes a
// server-side dry run against the real API server, with the CRDs
// installed first.
func TestReleaseIntoARegistry(t *testing.T) {
	repo := imagetest.Registry(t, "", "") + "/flywheel"

	objs := releasetest.Run(t, repo, releasePlatforms)
	if u := release.Unresolved(objs); len(u) > 0 {
		t.Errorf("flywheel.yaml still names ko:// images:\n%s", strings.Join(u, "\n"))
	}

	t.Run("every image Flywheel runs is published by digest", func(t *testing.T) {
		unresolved, err := release.Manifests()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, image := range release.Images(unresolved) {
			path, ok := strings.CutPrefix(image, "ko://")
			if !ok {
				t.Errorf("the release runs %s, which it does not build", image)
				continue
			}
			want = append(want, repo+"/"+path)
		}
		var got []string
		for _, image := range release.Images(objs) {
			d, err := name.NewDigest(image)
			if err != nil {
				t.Errorf("image %s is not a digest: %v", image, err)
				continue
			}
			got = append(got, d.Context().Name())
			t.Run(strings.TrimPrefix(d.Context().RepositoryStr(), "flywheel/"), func(t *testing.T) {
				checkPublished(t, d)
			})
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, slices.Compact(got)); diff != "" {
			t.Errorf("repositories of the images of flywheel.yaml (-want, +got):\n%s", diff)
		}
	})

	t.Run("server-side dry run", func(t *testing.T) {
		var crds []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o)
			}
		}
		if len(crds) == 0 {
			t.Fatal("flywheel.yaml holds no CRD")
		}
		// Objects of a CRD's kinds can be checked only once it is
		// served: the CRDs for real (the cluster has these already,
		// from config/ and third_party/gateway-api, so nothing
		// changes), then everything without storing it.
		if err := manifest.Apply(t.Context(), cluster.RESTConfig(), crds, manifest.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := manifest.Apply(t.Context(), cluster.RESTConfig(), objs, manifest.Options{DryRun: true}); err != nil {
			t.Error(err)
		}
	})
}

// checkPublished checks that the registry serves d, for every platform of
// releasePlatforms (an image for one, an index for more), as an image a
// node can run: its config's entrypoint is an executable file of its
// layers, it runs as the base image's nonroot user, which its /etc/passwd
// names, and it carries the CA bundle.
func checkPublished(t *testing.T, d name.Digest) {
	t.Helper()
	desc, err := remote.Get(d, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("the registry does not serve %s: %v", d, err)
	}
	var platforms []string
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range im.Manifests {
			if m.Platform == nil || !m.MediaType.IsImage() {
				continue
			}
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			platforms = append(platforms, checkRunnable(t, img))
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		platforms = append(platforms, checkRunnable(t, img))
	default:
		t.Fatalf("%s is a %s, neither an image nor an index", d, desc.MediaType)
	}
	slices.Sort(platforms)
	if diff := cmp.Diff(releasePlatforms, platforms); diff != "" {
		t.Errorf("platforms of %s (-want, +got):\n%s", d, diff)
	}
}

// checkRunnable checks img as checkPublished says and returns its
// platform, as its config says.
func checkRunnable(t *testing.T, img v1.Image) string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	p := cf.Platform()
	if want := itoa(release.NonrootUID); cf.Config.User != want {
		t.Errorf("%s: runs as user %q, want the base's %q", p, cf.Config.User, want)
	}
	if len(cf.Config.Entrypoint) != 1 {
		t.Fatalf("%s: entrypoint %q, want the program alone", p, cf.Config.Entrypoint)
	}
	entrypoint := cf.Config.Entrypoint[0]

	files := map[string]*tar.Header{}
	var passwd string
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		path := "/" + strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		files[path] = h
		if path == "/etc/passwd" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			passwd = string(b)
		}
	}
	if h := files[entrypoint]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
		t.Errorf("%s: the entrypoint %s is not an executable file of the image (%+v)", p, entrypoint, h)
	}
	if !strings.Contains(passwd, "nonroot:x:"+itoa(release.NonrootUID)+":") {
		t.Errorf("%s: /etc/passwd names no nonroot user %d:\n%s", p, release.NonrootUID, passwd)
	}
	if h := files[release.CACertificatesPath]; h == nil || h.Size == 0 {
		t.Errorf("%s: no CA bundle at %s", p, release.CACertificatesPath)
	}
	return p.String()
}
