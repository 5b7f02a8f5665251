package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one entry of a layer's tar stream. Type is a tar type flag
// (tar.TypeReg when zero); Link is a symbolic or hard link's target.
type Entry struct {
	Name     string
	Type     byte
	Body     string
	Mode     int64
	UID, GID int
	Link     string
}

// File is a regular file holding body, mode 0644; change Mode, UID and
// GID on the result as needed.
func File(name, body string) Entry { return Entry{Name: name, Body: body, Mode: 0o644} }

// Dir is a directory, mode 0755.
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }

// Symlink is a symbolic link to target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}

// Hardlink is a hard link to target, an entry of the same layer or one
// below.
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Link: target, Mode: 0o644}
}

// Whiteout deletes name (a path) of the layers below.
func Whiteout(name string) Entry {
	dir, base := "", name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	return File(dir+".wh."+base, "")
}

// Opaque hides what the layers below put in dir.
func Opaque(dir string) Entry { return File(strings.TrimSuffix(dir, "/")+"/.wh..wh..opq", "") }

// Tar is the uncompressed tar stream of entries, in order.
func Tar(entries ...Entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{
			Name: e.Name, Typeflag: typ, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Linkname: e.Link, ModTime: time.Unix(1_700_000_000, 0), Format: tar.FormatPAX,
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(fmt.Sprintf("imagetest: %s: %v", e.Name, err))
		}
		if typ == tar.TypeReg {
			_, _ = tw.Write([]byte(e.Body))
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Layer is a gzip-compressed layer of the tar stream b.
func Layer(b []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// Image is an image of layers (lowest first) on an empty base, with cfg
// its config, for linux on arch.
func Image(cfg v1.Config, arch string, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", arch
	return mutate.ConfigFile(img, cf)
}

// Registry is a registry serving on loopback until the test ends (Serve).
func Registry(t testing.TB, user, password string) string {
	t.Helper()
	return RegistryAt(t, "127.0.0.1:0", user, password)
}

// RegistryAt is a registry serving at addr until the test ends (ServeAt).
func RegistryAt(t testing.TB, addr, user, password string) string {
	t.Helper()
	host, stop, err := ServeAt(addr, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host
}

// Serve starts a registry on loopback (ServeAt).
func Serve(user, password string) (host string, stop func(), err error) {
	return ServeAt("127.0.0.1:0", user, password)
}

// ServeAt starts a registry listening at addr (host:port, port 0 for any),
// keeping blobs in memory; with a user, every request must carry that
// user's basic credentials, and others get the registry protocol's 401
// UNAUTHORIZED. It returns the registry's host:port and the function that
// stops it. Plain HTTP: clients speak it to loopback and private (RFC
// 1918) addresses without being told.
func ServeAt(addr, user, password string) (host string, stop func(), err error) {
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if user != "" {
		h = BasicAuth(h, user, password)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	return l.Addr().String(), srv.Close, nil
}

// BuildStatic builds the Go package importPath (of the module around the
// working directory) as a static executable and returns it.
func BuildStatic(importPath string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "imagetest-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "exe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, importPath)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s: %w\n%s", importPath, err, b)
	}
	return os.ReadFile(out)
}

// StaticImage is exe alone at /name on an empty base, its Entrypoint.
func StaticImage(name string, exe []byte) (v1.Image, error) {
	e := File(name, string(exe))
	e.Mode = 0o755
	layer, err := Layer(Tar(e))
	if err != nil {
		return nil, err
	}
	return Image(v1.Config{Entrypoint: []string{"/" + name}}, runtime.GOARCH, layer)
}

// BasicAuth refuses requests without user's credentials as a registry
// does: 401 with a Basic challenge and an UNAUTHORIZED error.
func BasicAuth(next http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="imagetest"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Push writes img to ref (host:port/repo:tag) with opts (credentials).
func Push(ref string, img v1.Image, opts ...remote.Option) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	return remote.Write(r, img, opts...)
}

// PlatformImage is one image of an index.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
}

// PushIndex writes an index of imgs to ref.
func PushIndex(ref string, imgs []PlatformImage, opts ...remote.Option) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	idx := v1.ImageIndex(empty.Index)
	for _, pi := range imgs {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: pi.Image, Descriptor: v1.Descriptor{Platform: &pi.Platform}})
	}
	return remote.WriteIndex(r, idx, opts...)
}
