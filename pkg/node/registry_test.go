package node

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"

	"flywheel.dev/pkg/node/imagetest"
)

func TestPullDecision(t *testing.T) {
	tests := []struct {
		policy   corev1.PullPolicy
		present  bool
		wantPull bool
		wantErr  string
	}{
		{policy: corev1.PullAlways, present: true, wantPull: true},
		{policy: corev1.PullAlways, present: false, wantPull: true},
		{policy: corev1.PullIfNotPresent, present: true, wantPull: false},
		{policy: corev1.PullIfNotPresent, present: false, wantPull: true},
		{policy: corev1.PullNever, present: true, wantPull: false},
		{policy: corev1.PullNever, present: false, wantErr: `Container image "r/app:1" is not present with pull policy of Never`},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s, present %v", tc.policy, tc.present), func(t *testing.T) {
			pull, err := pullDecision(tc.policy, tc.present, "r/app:1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("pullDecision() = %v, %v; want an error containing %q", pull, err, tc.wantErr)
				}
				return
			}
			if err != nil || pull != tc.wantPull {
				t.Errorf("pullDecision() = %v, %v; want %v", pull, err, tc.wantPull)
			}
		})
	}
}

// TestEffectivePullPolicy: an unset policy is what the API server would
// default it to.
func TestEffectivePullPolicy(t *testing.T) {
	for img, want := range map[string]corev1.PullPolicy{
		"r.test/app":        corev1.PullAlways,
		"r.test/app:latest": corev1.PullAlways,
		"r.test/app:1.0":    corev1.PullIfNotPresent,
		"r.test/app@sha256:" + strings.Repeat("a", 64): corev1.PullIfNotPresent,
	} {
		ref, err := name.ParseReference(img)
		if err != nil {
			t.Fatal(err)
		}
		if got := effectivePullPolicy(ref, ""); got != want {
			t.Errorf("effectivePullPolicy(%s) = %s, want %s", img, got, want)
		}
		if got := effectivePullPolicy(ref, corev1.PullNever); got != corev1.PullNever {
			t.Errorf("effectivePullPolicy(%s, Never) = %s", img, got)
		}
	}
}

// testImage is an image of two layers holding body at /app/file, the
// second whiting out a file of the first.
func testImage(t *testing.T, body string, arch string) v1.Image {
	t.Helper()
	l1, err := imagetest.Layer(imagetest.Tar(imagetest.Dir("app"), imagetest.File("app/file", body), imagetest.File("app/old", "old")))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := imagetest.Layer(imagetest.Tar(imagetest.Whiteout("app/old")))
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagetest.Image(v1.Config{Entrypoint: []string{"/app/run"}, Env: []string{"A=1"}, User: "1000", WorkingDir: "/app"}, arch, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newTestRegistryImages(t *testing.T, objects ...k8sruntime.Object) *registryImages {
	t.Helper()
	r := newRegistryImages(fake.NewClientset(objects...), t.TempDir(), -1)
	// Not the docker config of whoever runs the test.
	r.keychain = authn.NewMultiKeychain()
	return r
}

// TestRegistryPull pulls from a real registry on loopback that requires
// credentials: without them the error carries the registry's refusal;
// the pod's pull secret, or its ServiceAccount's, opens it; the image is
// then unpacked, its config kept, its ID the repository's digest; and
// IfNotPresent takes it from the cache without asking the registry.
func TestRegistryPull(t *testing.T) {
	requireRoot(t)
	host := imagetest.Registry(t, "alice", "s3cret")
	ref := host + "/private/app:1"
	img := testImage(t, "hello", runtime.GOARCH)
	if err := imagetest.Push(ref, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	auth := fmt.Sprintf(`{"auths":{%q:{"username":"alice","password":"s3cret"}}}`, "http://"+host)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "ns"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(auth)},
	}
	sa := &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "puller", Namespace: "ns"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
	}
	r := newTestRegistryImages(t, secret, sa)
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}

	_, err = r.pull(t.Context(), ref, corev1.PullAlways, bare)
	if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") || !strings.Contains(err.Error(), ref) {
		t.Fatalf("pull without credentials = %v, want an error naming the image and the registry's UNAUTHORIZED", err)
	}

	withSecret := bare.DeepCopy()
	withSecret.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "missing"}, {Name: "regcred"}}
	got, err := r.pull(t.Context(), ref, corev1.PullAlways, withSecret)
	if err != nil {
		t.Fatalf("pull with the pod's pull secret: %v", err)
	}
	got.release()
	if want := host + "/private/app@" + digest.String(); got.id != want {
		t.Errorf("image ID = %s, want %s", got.id, want)
	}
	if b, err := os.ReadFile(filepath.Join(got.rootfs, "app/file")); err != nil || string(b) != "hello" {
		t.Errorf("app/file = %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(got.rootfs, "app/old")); err == nil {
		t.Error("app/old survived its whiteout")
	}
	wantCfg := imageConfig{Entrypoint: []string{"/app/run"}, Env: []string{"A=1"}, User: "1000", WorkingDir: "/app"}
	if fmt.Sprint(got.config) != fmt.Sprint(wantCfg) {
		t.Errorf("config = %+v, want %+v", got.config, wantCfg)
	}

	viaSA := bare.DeepCopy()
	viaSA.Spec.ServiceAccountName = "puller"
	if bySA, err := r.pull(t.Context(), ref, corev1.PullAlways, viaSA); err != nil {
		t.Errorf("pull with the ServiceAccount's pull secret: %v", err)
	} else {
		bySA.release()
	}

	// Cached: a pod without credentials runs it under IfNotPresent and
	// Never, which would fail if the registry were asked.
	for _, policy := range []corev1.PullPolicy{corev1.PullIfNotPresent, corev1.PullNever} {
		if again, err := r.pull(t.Context(), ref, policy, bare); err != nil || again.rootfs != got.rootfs {
			t.Errorf("pull %s of a cached image = %+v, %v; want the cached image", policy, again, err)
		} else {
			again.release()
		}
	}
	if _, err := r.pull(t.Context(), host+"/private/other:1", corev1.PullNever, bare); err == nil || !strings.Contains(err.Error(), "pull policy of Never") {
		t.Errorf("pull Never of an absent image = %v, want the kubelet's refusal", err)
	}
	blobs, _ := os.ReadDir(r.blobDir())
	if len(blobs) != 2 {
		t.Errorf("the blob cache holds %d files after three pulls of a two-layer image, want 2", len(blobs))
	}
}

// TestRegistryPullPicksPlatform pulls a multi-platform index: the host's
// platform's image is unpacked, and the image ID is the index's digest.
func TestRegistryPullPicksPlatform(t *testing.T) {
	requireRoot(t)
	host := imagetest.Registry(t, "", "")
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	ref := host + "/multi:1"
	err := imagetest.PushIndex(ref, []imagetest.PlatformImage{
		{Platform: v1.Platform{OS: "linux", Architecture: other}, Image: testImage(t, "other", other)},
		{Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, Image: testImage(t, "mine", runtime.GOARCH)},
	})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRegistryImages(t)
	got, err := r.pull(t.Context(), ref, corev1.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.release()
	if b, _ := os.ReadFile(filepath.Join(got.rootfs, "app/file")); string(b) != "mine" {
		t.Errorf("unpacked the image holding %q, want the %s one", b, runtime.GOARCH)
	}
	if want := host + "/multi@" + desc.Digest.String(); got.id != want {
		t.Errorf("image ID = %s, want the index's %s", got.id, want)
	}
}

// TestRegistryCacheCollect fills a bounded cache: the least recently used
// images go first, never one a container runs.
func TestRegistryCacheCollect(t *testing.T) {
	requireRoot(t)
	host := imagetest.Registry(t, "", "")
	r := newTestRegistryImages(t)
	// Last uses in the past, a minute apart: an image just pulled is the
	// newest.
	clk := testingclock.NewFakePassiveClock(time.Unix(1_600_000_000, 0))
	r.clock = clk
	const size = 200 << 10
	var refs []string
	for i := range 4 {
		ref := fmt.Sprintf("%s/gc%d:1", host, i)
		// Incompressible: each image weighs its size in the cache.
		if err := imagetest.Push(ref, testImage(t, randomText(t, size), runtime.GOARCH)); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	// Room for about two images (layer and unpacked file each).
	r.maxBytes = 5 * size
	clk.SetTime(clk.Now().Add(time.Minute))
	running, err := r.pull(t.Context(), refs[0], corev1.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs[1:] {
		clk.SetTime(clk.Now().Add(time.Minute))
		pulled, err := r.pull(t.Context(), ref, corev1.PullIfNotPresent, nil)
		if err != nil {
			t.Fatal(err)
		}
		pulled.release()
	}
	present := map[string]bool{}
	for _, ref := range refs {
		_, present[ref] = r.known(ref)
	}
	want := map[string]bool{refs[0]: true, refs[1]: false, refs[2]: false, refs[3]: true}
	if fmt.Sprint(present) != fmt.Sprint(want) {
		t.Errorf("images kept %v, want %v (the running one and the newest)", present, want)
	}
	if _, err := os.Stat(running.rootfs); err != nil {
		t.Errorf("the running image's root filesystem is gone: %v", err)
	}
	running.release()
	var total int64
	for _, img := range r.cachedImages() {
		total += img.record.RootfsBytes
	}
	if total > r.maxBytes {
		t.Errorf("the unpacked images weigh %d bytes, over the bound %d", total, r.maxBytes)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// randomText is n bytes no compressor shrinks.
func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}
