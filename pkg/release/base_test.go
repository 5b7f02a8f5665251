package release

import (
	"archive/tar"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// entry is what a test reads of a tar header.
type entry struct {
	Mode     int64
	UID, GID int
	Dir      bool
	Contents string
}

func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		// Extract names directories without their trailing slash.
		files[strings.TrimSuffix(h.Name, "/")] = entry{Mode: h.Mode, UID: h.Uid, GID: h.Gid, Dir: h.Typeflag == tar.TypeDir, Contents: string(b)}
	}
}

func TestBaseImage(t *testing.T) {
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	idx, err := BaseImage(platforms, []byte("a CA bundle\n"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []v1.Platform
	for _, m := range im.Manifests {
		got = append(got, *m.Platform)
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		// A node picks the image by the index and runs it by the config:
		// both must name the platform.
		if cf.OS != m.Platform.OS || cf.Architecture != m.Platform.Architecture || cf.Variant != m.Platform.Variant {
			t.Errorf("image for %s says %s/%s/%s", m.Platform, cf.OS, cf.Architecture, cf.Variant)
		}
		if cf.Config.User != "65532" || cf.Config.WorkingDir != "/home/nonroot" {
			t.Errorf("runs as %q in %q, want nonroot (65532) in its home", cf.Config.User, cf.Config.WorkingDir)
		}

		files := extract(t, img)
		want := map[string]entry{
			"etc":               {Mode: 0o755, Dir: true},
			"etc/ssl":           {Mode: 0o755, Dir: true},
			"etc/ssl/certs":     {Mode: 0o755, Dir: true},
			"home":              {Mode: 0o755, Dir: true},
			"home/nonroot":      {Mode: 0o700, UID: 65532, GID: 65532, Dir: true},
			"root":              {Mode: 0o700, Dir: true},
			"tmp":               {Mode: 0o1777, Dir: true},
			"etc/nsswitch.conf": {Mode: 0o644, Contents: "hosts: files dns\n"},
			"etc/group":         {Mode: 0o644, Contents: "root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n"},
			"etc/passwd": {Mode: 0o644, Contents: "root:x:0:0:root:/root:/sbin/nologin\n" +
				"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"},
			"etc/ssl/certs/ca-certificates.crt": {Mode: 0o644, Contents: "a CA bundle\n"},
		}
		if diff := cmp.Diff(want, files); diff != "" {
			t.Errorf("files of the image for %s (-want, +got):\n%s", m.Platform, diff)
		}
	}
	if diff := cmp.Diff(platforms, got); diff != "" {
		t.Errorf("platforms (-want, +got):\n%s", diff)
	}

	// The same certificates make the same image: a release run twice
	// pushes the same base and rebuilds nothing because of it.
	again, err := BaseImage(platforms, []byte("a CA bundle\n"))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two base images from the same input differ: %s, %s", d1, d2)
	}
}

func TestBaseImageNeedsAPlatform(t *testing.T) {
	if _, err := BaseImage(nil, nil); err == nil {
		t.Error("BaseImage made an index of no image")
	}
}
