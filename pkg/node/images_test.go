package node

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func writeExecutable(t *testing.T, content string) (path, digest string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return path, hex.EncodeToString(sum[:])
}

func newTestResolver(t *testing.T, objs ...*corev1.ConfigMap) *imageResolver {
	t.Helper()
	kube := fake.NewClientset()
	for _, cm := range objs {
		if _, err := kube.CoreV1().ConfigMaps(cm.Namespace).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s := &settings{imagesNamespace: "flywheel-system", imagesConfigName: "node-images"}
	s.ImageCacheDir = t.TempDir()
	return newImageResolver(kube, s)
}

func TestResolveImage(t *testing.T) {
	app, digest := writeExecutable(t, "#!/bin/sh\n")
	notExec := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newTestResolver(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flywheel-system", Name: "node-images"},
		Data: map[string]string{
			"registry.example_team_app_v1":  app,
			"registry.example_team_root_v1": app + " user=0",
			"registry.example_team_bad_v1":  app + " uid=0",
			"relative":                      "bin/app",
		},
	})
	for _, tc := range []struct {
		name, image string
		wantPath    string
		// wantUser is the user the image runs as; nil: ko's nonroot.
		wantUser *imageUser
		wantErr  string
	}{
		{name: "an absolute path", image: app, wantPath: app},
		{name: "an absolute path with its digest", image: app + "@sha256:" + digest, wantPath: app},
		{name: "a digest that does not match", image: app + "@sha256:" + strings.Repeat("0", 64), wantErr: "not the sha256:0000"},
		{name: "a file that is not executable", image: notExec, wantErr: "not an executable file"},
		{name: "a missing file", image: "/no/such/file", wantErr: "no such file"},
		{name: "an image mapped by the ConfigMap", image: "registry.example/team/app:v1", wantPath: app},
		{name: "an image mapped with its user", image: "registry.example/team/root:v1", wantPath: app, wantUser: &imageUser{uid: 0, gid: 0}},
		{name: "a mapping with an unknown option", image: "registry.example/team/bad:v1", wantErr: `"uid=0" after the executable`},
		{name: "a mapping to a relative path", image: "relative", wantErr: "neither an absolute path nor ko://"},
		// Pulled from its registry: one on loopback where nothing listens.
		{name: "an unmapped image from a registry that fails", image: "127.0.0.1:1/unknown/app:v2", wantErr: `failed to pull image "127.0.0.1:1/unknown/app:v2"`},
		{name: "a failed pull says how to map the image", image: "127.0.0.1:1/unknown/app:v2", wantErr: `ConfigMap flywheel-system/node-images: data: "127.0.0.1_1_unknown_app_v2": /absolute/path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.resolve(t.Context(), nil, tc.image, corev1.PullAlways)
			if tc.wantErr != "" {
				var ie *errImage
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ie) {
					t.Fatalf("resolve(%q) = %+v, %v; want an image error containing %q", tc.image, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.path != tc.wantPath || got.id() != "sha256:"+digest {
				t.Errorf("resolve(%q) = %+v, want %s with digest %s", tc.image, got, tc.wantPath, digest)
			}
			if diff := cmp.Diff(tc.wantUser, got.user, cmp.AllowUnexported(imageUser{})); diff != "" {
				t.Errorf("resolve(%q) runs as (-want, +got):\n%s", tc.image, diff)
			}
		})
	}
}

func TestResolveImagePullPolicy(t *testing.T) {
	app, _ := writeExecutable(t, "v1")
	r := newTestResolver(t)
	first, err := r.resolve(t.Context(), nil, app, corev1.PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, []byte("version two"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, _ := r.resolve(t.Context(), nil, app, corev1.PullIfNotPresent)
	if again != first {
		t.Errorf("IfNotPresent resolved anew: %+v, then %+v", first, again)
	}
	always, _ := r.resolve(t.Context(), nil, app, corev1.PullAlways)
	if always.digest == first.digest {
		t.Error("Always kept the old digest of a changed executable")
	}
	if _, err := r.resolve(t.Context(), nil, "/never/seen", corev1.PullNever); err == nil {
		t.Error("Never resolved an image it had not seen")
	}
}

func TestResolveKoImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	r := newTestResolver(t)
	img := KoPrefix + "flywheel.dev/pkg/node/testdata/server"
	got, err := r.resolve(t.Context(), nil, img, corev1.PullAlways)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(r.cacheDir, "sha256-"+got.digest); got.path != want {
		t.Errorf("built into %s, want %s", got.path, want)
	}
	if d, err := fileDigest(got.path); err != nil || d != got.digest {
		t.Errorf("the executable's digest is %s (%v), the image's %s", d, err, got.digest)
	}
	// The same source builds the same executable, and a pinned digest in
	// the cache needs no build.
	again, err := r.resolve(t.Context(), nil, img, corev1.PullAlways)
	if err != nil || again != got {
		t.Errorf("a rebuild gave %+v (%v), want %+v", again, err, got)
	}
	r.goCommand = "/nonexistent/go"
	if pinned, err := r.resolve(t.Context(), nil, img+"@sha256:"+got.digest, corev1.PullAlways); err != nil || pinned != got {
		t.Errorf("the pinned image resolved to %+v (%v), want the cached %+v", pinned, err, got)
	}

	// An image the ConfigMap maps to an import path is that build.
	r.goCommand = "go"
	mapped := newTestResolver(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flywheel-system", Name: "node-images"},
		Data:       map[string]string{"upstream_server_1.0": img},
	})
	if viaMap, err := mapped.resolve(t.Context(), nil, "upstream/server:1.0", corev1.PullAlways); err != nil || viaMap.digest != got.digest {
		t.Errorf("the image mapped to %s resolved to %+v (%v), want the digest %s", img, viaMap, err, got.digest)
	}

	_, err = r.resolve(t.Context(), nil, KoPrefix+"flywheel.dev/no/such/package", corev1.PullAlways)
	var ie *errImage
	if !errors.As(err, &ie) {
		t.Errorf("building a missing package: %v, want an image error", err)
	}
}

func TestImagesConfigMapKey(t *testing.T) {
	for img, want := range map[string]string{
		"app":                              "app",
		"registry.example/team/app:v1":     "registry.example_team_app_v1",
		"ghcr.io/o/a@sha256:abc":           "ghcr.io_o_a_sha256_abc",
		"Mixed-Case_name.with.dots-and_09": "Mixed-Case_name.with.dots-and_09",
	} {
		if got := ImagesConfigMapKey(img); got != want {
			t.Errorf("ImagesConfigMapKey(%q) = %q, want %q", img, got, want)
		}
	}
}

func TestEntrypoint(t *testing.T) {
	img := image{path: "/cache/sha256-abc"}
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	if err := os.WriteFile(tool, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		command, args []string
		wantPath      string
		wantArgv      []string
		wantErr       bool
	}{
		{name: "the image's executable with args", args: []string{"-v"}, wantPath: img.path, wantArgv: []string{img.path, "-v"}},
		{name: "ko's path in the image", command: []string{"/ko-app/hello"}, args: []string{"x"}, wantPath: img.path, wantArgv: []string{"/ko-app/hello", "x"}},
		{name: "an absolute command", command: []string{"/bin/sh", "-c"}, args: []string{"true"}, wantPath: "/bin/sh", wantArgv: []string{"/bin/sh", "-c", "true"}},
		{name: "a command on PATH", command: []string{"tool"}, wantPath: tool, wantArgv: []string{"tool"}},
		{name: "a command not on PATH", command: []string{"nope"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, argv, err := entrypoint(img, tc.command, tc.args, "/nonexistent:"+dir)
			if tc.wantErr {
				if err == nil {
					t.Errorf("entrypoint() = %s, want an error", path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != tc.wantPath {
				t.Errorf("path %s, want %s", path, tc.wantPath)
			}
			if diff := cmp.Diff(tc.wantArgv, argv); diff != "" {
				t.Errorf("argv (-want, +got):\n%s", diff)
			}
		})
	}
}
