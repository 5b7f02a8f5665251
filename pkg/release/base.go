package release

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonrootUID is the user and group the base image runs programs as:
// distroless's nonroot, which Flywheel's manifests expect (runAsNonRoot,
// and the queue-proxy's own uid apart from it).
const NonrootUID = 65532

// CACertificatesPath is where the base image keeps the CA bundle: the
// first place Go's crypto/x509 looks on Linux, so TLS to registries (the
// controller resolves image digests) and to OTLP endpoints works.
const CACertificatesPath = "/etc/ssl/certs/ca-certificates.crt"

// baseFile is one entry of the base image's only layer.
type baseFile struct {
	path     string
	mode     int64
	uid      int
	contents string
	dir      bool
}

// baseFiles is the base image's file system: what a static Go program
// needs around it, and no shell. The users are root, nonroot and nobody,
// as in distroless; nonroot's home is its own.
func baseFiles(caCertificates []byte) []baseFile {
	nonroot := strconv.Itoa(NonrootUID)
	return []baseFile{
		{path: "etc/", mode: 0o755, dir: true},
		{path: "etc/group", mode: 0o644, contents: "root:x:0:\nnonroot:x:" + nonroot + ":\nnobody:x:65534:\n"},
		// Go's resolver reads it; files first, as glibc's default.
		{path: "etc/nsswitch.conf", mode: 0o644, contents: "hosts: files dns\n"},
		{path: "etc/passwd", mode: 0o644, contents: "root:x:0:0:root:/root:/sbin/nologin\n" +
			"nonroot:x:" + nonroot + ":" + nonroot + ":nonroot:/home/nonroot:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"},
		{path: "etc/ssl/", mode: 0o755, dir: true},
		{path: "etc/ssl/certs/", mode: 0o755, dir: true},
		{path: CACertificatesPath[1:], mode: 0o644, contents: string(caCertificates)},
		{path: "home/", mode: 0o755, dir: true},
		{path: "home/nonroot/", mode: 0o700, uid: NonrootUID, dir: true},
		{path: "root/", mode: 0o700, dir: true},
		{path: "tmp/", mode: 0o1777, dir: true},
	}
}

// BaseLayer returns the base image's only layer. Its entries carry no
// time, so the same certificates always make the same digest.
func BaseLayer(caCertificates []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range baseFiles(caCertificates) {
		h := &tar.Header{
			Name:    f.path,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.uid,
			ModTime: time.Unix(0, 0),
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.contents); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// BaseImage returns the base of Flywheel's images: an index of one image
// per platform, each BaseLayer, run as NonrootUID from its home. ko puts
// each program in a layer above it and sets the entrypoint.
func BaseImage(platforms []v1.Platform, caCertificates []byte) (v1.ImageIndex, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("no platform to make the base image for")
	}
	layer, err := BaseLayer(caCertificates)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := mutate.ConfigFile(mutate.MediaType(empty.Image, types.OCIManifestSchema1), &v1.ConfigFile{
			OS:           p.OS,
			Architecture: p.Architecture,
			Variant:      p.Variant,
			OSVersion:    p.OSVersion,
			Config: v1.Config{
				User:       strconv.Itoa(NonrootUID),
				WorkingDir: "/home/nonroot",
				Env: []string{
					"PATH=/usr/local/bin:/usr/bin:/bin",
					"SSL_CERT_FILE=" + CACertificatesPath,
				},
			},
			RootFS: v1.RootFS{Type: "layers"},
		})
		if err != nil {
			return nil, err
		}
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		if img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: types.OCILayer,
			History:   v1.History{CreatedBy: "flywheel.dev/pkg/release: users, CA certificates, /tmp"},
		}); err != nil {
			return nil, err
		}
		platform := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &platform},
		})
	}
	return idx, nil
}
