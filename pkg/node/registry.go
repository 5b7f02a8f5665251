package node

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/registryauth"
)

// ociImage is a registry image unpacked on the node.
type ociImage struct {
	// id is the image's ID as a container status reports it: the
	// repository with the digest the reference resolved to
	// (repository@sha256:…), that of the index for a multi-platform image.
	id string
	// manifest is the digest (hex) of the platform's image manifest: the
	// unpacked root filesystem's name.
	manifest string
	// rootfs is the unpacked root filesystem, shared by every container
	// of the image and never written: each run's writes go to an overlay.
	rootfs string
	config imageConfig
	// release lets the cache collect the image once the container that
	// pulled it has exited.
	release func()
}

// registryImages pulls images from registries into a cache under dir:
//
//	blobs/sha256/<hex>    each layer as the registry serves it, once
//	rootfs/<hex>          each image's layers unpacked, by manifest digest
//	images/<hex>.json     what the node knows of an image (imageRecord);
//	                      its modification time is the image's last use
//	refs/<hash of ref>    what a reference last resolved to (refRecord),
//	                      for IfNotPresent and Never
//
// The cache is kept under maxBytes by removing the least recently used
// images that no container runs (collect).
type registryImages struct {
	kube     kubernetes.Interface
	dir      string
	maxBytes int64
	// keychain is the node's own credentials (its docker config), tried
	// after the pod's pull secrets.
	keychain authn.Keychain
	platform v1.Platform
	// clock dates each image's last use.
	clock clock.PassiveClock

	mu sync.Mutex
	// inUse counts the running containers of each image (manifest hex).
	inUse map[string]int
	// unpacks deduplicates concurrent pulls of one image.
	unpacks map[string]*sharedRun[struct{}]
	// cacheLock keeps collect from removing what a pull is adding: pulls
	// hold it shared, collect exclusively.
	cacheLock sync.RWMutex
}

// imageRecord is images/<hex>.json.
type imageRecord struct {
	Layers      []string    `json:"layers"`
	RootfsBytes int64       `json:"rootfsBytes"`
	Config      imageConfig `json:"config"`
}

// refRecord is refs/<hash of ref>.
type refRecord struct {
	Ref      string `json:"ref"`
	ID       string `json:"id"`
	Manifest string `json:"manifest"`
}

// DefaultImageCacheMaxBytes bounds the registry image cache (layers and
// unpacked root filesystems) when the node's configuration gives no
// bound.
const DefaultImageCacheMaxBytes = 10 << 30

func newRegistryImages(kube kubernetes.Interface, dir string, maxBytes int64) *registryImages {
	return &registryImages{
		kube:     kube,
		dir:      dir,
		maxBytes: maxBytes,
		keychain: authn.DefaultKeychain,
		platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		clock:    clock.RealClock{},
		inUse:    map[string]int{},
		unpacks:  map[string]*sharedRun[struct{}]{},
	}
}

// effectivePullPolicy is the policy the API server would have defaulted:
// Always for an image without a tag or with :latest (and no digest),
// IfNotPresent otherwise.
func effectivePullPolicy(ref name.Reference, policy corev1.PullPolicy) corev1.PullPolicy {
	if policy != "" {
		return policy
	}
	if t, ok := ref.(name.Tag); ok && t.TagStr() == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// pullDecision says whether a pull policy asks the registry, given
// whether the image is on the node; an error is the kubelet's refusal
// under Never.
func pullDecision(policy corev1.PullPolicy, present bool, img string) (pull bool, err error) {
	switch policy {
	case corev1.PullNever:
		if !present {
			return false, &errImage{msg: fmt.Sprintf("Container image %q is not present with pull policy of Never", img)}
		}
		return false, nil
	case corev1.PullIfNotPresent:
		return !present, nil
	}
	return true, nil
}

// pull returns img unpacked, pulling it when the policy says so, with the
// pod's pull secrets (its own, then its ServiceAccount's) before the
// node's credentials. The image is held (not collected) until its
// release.
func (r *registryImages) pull(ctx context.Context, img string, policy corev1.PullPolicy, pod *corev1.Pod) (*ociImage, error) {
	ref, err := name.ParseReference(img)
	if err != nil {
		return nil, &errImage{msg: fmt.Sprintf("image %q is not a valid image reference: %v", img, err)}
	}
	policy = effectivePullPolicy(ref, policy)
	known, present := r.known(img)
	pull, err := pullDecision(policy, present, img)
	if err != nil {
		return nil, err
	}
	rec := known
	if pull {
		if rec, err = r.fetch(ctx, img, ref, pod); err != nil {
			return nil, err
		}
	}
	held, err := r.hold(rec)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	held.release = func() { once.Do(func() { r.release(rec.Manifest) }) }
	return held, nil
}

// known is what img last resolved to, and whether that image is still
// unpacked.
func (r *registryImages) known(img string) (refRecord, bool) {
	var rec refRecord
	b, err := os.ReadFile(r.refPath(img))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Ref != img {
		return refRecord{}, false
	}
	if _, err := os.Stat(r.recordPath(rec.Manifest)); err != nil {
		return refRecord{}, false
	}
	if _, err := os.Stat(r.rootfsPath(rec.Manifest)); err != nil {
		return refRecord{}, false
	}
	return rec, true
}

// fetch resolves ref (img as the pod wrote it) at its registry and makes
// sure its image is unpacked.
func (r *registryImages) fetch(ctx context.Context, img string, ref name.Reference, pod *corev1.Pod) (refRecord, error) {
	keychains := []authn.Keychain{r.keychain}
	if pod != nil && r.kube != nil {
		// The pod's pull secrets come before the node's own docker config.
		keychains = slices.Insert(keychains, 0, registryauth.Keychain(ctx, r.kube, registryauth.PodOf(pod.Namespace, &pod.Spec)))
	}
	keychain := authn.NewMultiKeychain(keychains...)
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain), remote.WithPlatform(r.platform))
	if err != nil {
		return refRecord{}, &errImage{msg: fmt.Sprintf("failed to pull image %q: %v", img, err)}
	}
	platformImage, err := desc.Image()
	if err != nil {
		return refRecord{}, &errImage{msg: fmt.Sprintf("failed to pull image %q: %v", img, err)}
	}
	manifest, err := platformImage.Digest()
	if err != nil {
		return refRecord{}, &errImage{msg: fmt.Sprintf("failed to pull image %q: %v", img, err)}
	}
	if err := r.unpackOnce(ctx, platformImage, manifest.Hex); err != nil {
		return refRecord{}, &errImage{msg: fmt.Sprintf("failed to pull and unpack image %q: %v", img, err)}
	}
	// Keyed by the image as written, which the next pod of it names.
	rec := refRecord{Ref: img, ID: ref.Context().Digest(desc.Digest.String()).String(), Manifest: manifest.Hex}
	if err := writeJSONAtomic(r.refPath(img), rec); err != nil {
		return refRecord{}, err
	}
	return rec, nil
}

// unpackOnce unpacks image unless it already is, one pull at a time per
// image in this node and, through a lock file, across nodes sharing the
// cache.
func (r *registryImages) unpackOnce(ctx context.Context, img v1.Image, manifest string) error {
	// The pull belongs to every pod waiting for it: a context that one of
	// them gives up on would fail the others.
	_, err := joinRun(ctx, &r.mu, r.unpacks, manifest, func() (struct{}, error) {
		return struct{}{}, r.unpack(context.WithoutCancel(ctx), img, manifest)
	})
	return err
}

func (r *registryImages) unpack(ctx context.Context, img v1.Image, manifest string) error {
	r.cacheLock.RLock()
	pulled := false
	defer func() {
		r.cacheLock.RUnlock()
		if pulled {
			r.collect(manifest)
		}
	}()
	for _, d := range []string{r.blobDir(), filepath.Join(r.dir, "rootfs"), filepath.Join(r.dir, "images"), filepath.Join(r.dir, "refs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	unlock, err := lockFile(r.rootfsPath(manifest) + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(r.recordPath(manifest)); err == nil {
		return nil
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	rec := imageRecord{Config: imageConfig{
		Entrypoint: cfg.Config.Entrypoint, Cmd: cfg.Config.Cmd, Env: cfg.Config.Env,
		WorkingDir: cfg.Config.WorkingDir, User: cfg.Config.User,
	}}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if err := r.fetchBlob(ctx, l, d); err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		rec.Layers = append(rec.Layers, d.Hex)
	}
	// Unpacked beside its final place, then renamed: a root filesystem
	// is there whole or not at all.
	tmp, err := os.MkdirTemp(filepath.Join(r.dir, "rootfs"), ".unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, hexDigest := range rec.Layers {
		if err := unpackBlob(tmp, r.blobPath(hexDigest), "sha256:"+hexDigest); err != nil {
			return err
		}
	}
	if rec.RootfsBytes, err = diskUsage(tmp); err != nil {
		return err
	}
	final := r.rootfsPath(manifest)
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	pulled = true
	return writeJSONAtomic(r.recordPath(manifest), rec)
}

// fetchBlob downloads a layer into the blob cache unless it is there.
// The registry client checks the digest as it reads: a blob that does not
// match fails the read, and is never renamed into place.
func (r *registryImages) fetchBlob(ctx context.Context, l v1.Layer, d v1.Hash) error {
	final := r.blobPath(d.Hex)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(r.blobDir(), ".fetch-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, readerWithContext(ctx, rc)); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// unpackBlob applies a cached layer, gzip, zstd or plain tar, to root.
func unpackBlob(root, blob, name string) error {
	f, err := os.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		defer gz.Close()
		r = gz
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	return unpackLayer(root, r, name)
}

// hold marks rec's image as used now and by one more container.
func (r *registryImages) hold(rec refRecord) (*ociImage, error) {
	b, err := os.ReadFile(r.recordPath(rec.Manifest))
	if err != nil {
		return nil, &errImage{msg: fmt.Sprintf("image %q: its record on the node is gone (%v); it is pulled again on the next try", rec.Ref, err)}
	}
	var ir imageRecord
	if err := json.Unmarshal(b, &ir); err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.recordPath(rec.Manifest), err)
	}
	r.mu.Lock()
	r.inUse[rec.Manifest]++
	r.mu.Unlock()
	now := r.clock.Now()
	_ = os.Chtimes(r.recordPath(rec.Manifest), now, now)
	return &ociImage{id: rec.ID, manifest: rec.Manifest, rootfs: r.rootfsPath(rec.Manifest), config: ir.Config}, nil
}

func (r *registryImages) release(manifest string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inUse[manifest]--; r.inUse[manifest] <= 0 {
		delete(r.inUse, manifest)
	}
}

func (r *registryImages) blobDir() string { return filepath.Join(r.dir, "blobs", "sha256") }
func (r *registryImages) blobPath(hexDigest string) string {
	return filepath.Join(r.blobDir(), hexDigest)
}
func (r *registryImages) rootfsPath(manifest string) string {
	return filepath.Join(r.dir, "rootfs", manifest)
}
func (r *registryImages) recordPath(manifest string) string {
	return filepath.Join(r.dir, "images", manifest+".json")
}
func (r *registryImages) refPath(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(r.dir, "refs", hex.EncodeToString(sum[:16]))
}

// writeJSONAtomic writes v as JSON to p through a temporary file.
func writeJSONAtomic(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".write-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// diskUsage sums the sizes of the regular files under dir, each inode
// once, and counts other entries as a block each.
func diskUsage(dir string) (int64, error) {
	var total int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			total += 4096
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// readerWithContext stops a read when ctx ends.
func readerWithContext(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// errNotMapped is an image the images ConfigMap does not map: a
// registry's.
var errNotMapped = errors.New("not mapped")
