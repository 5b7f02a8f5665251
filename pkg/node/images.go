package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KoPrefix marks an image that is a Go import path, built with go build
// as ko would build it into a container image.
const KoPrefix = "ko://"

// koAppDir is where ko puts the binary in an image (/ko-app/<name>); a
// command naming that path means the image's own executable.
const koAppDir = "/ko-app/"

// image is an image resolved to an executable.
type image struct {
	// path is the executable.
	path string
	// digest is the sha256 of the executable, hex-encoded.
	digest string
	// user is who the executable runs as when the pod names no user;
	// nil: ko's nonroot, the user of every executable image but those an
	// images ConfigMap entry gives another (ImageUserOption).
	user *imageUser
	// oci is set, and path empty, for a registry's image: its unpacked
	// root filesystem and config.
	oci *ociImage
}

// id is the image ID reported in container statuses.
func (i image) id() string {
	if i.oci != nil {
		return i.oci.id
	}
	return "sha256:" + i.digest
}

// done releases what resolving the image held.
func (i image) done() {
	if i.oci != nil && i.oci.release != nil {
		i.oci.release()
	}
}

// errImage is an image that cannot be resolved: the container waits with
// ErrImagePull, then ImagePullBackOff, and the message says how to fix it.
type errImage struct{ msg string }

func (e *errImage) Error() string { return e.msg }

// imageResolver turns images into executables:
//
//   - ko://<import path> is built with go build in the module root and
//     kept in the cache under its digest;
//   - an absolute path is the executable;
//   - anything else is looked up in the images ConfigMap (image → path,
//     or image → ko://<import path>, keyed by ImagesConfigMapKey, either
//     optionally followed by the user it runs as: ImageMapping);
//   - an image the ConfigMap does not map is a registry's: it is pulled
//     and unpacked (registryImages), and runs in its own root filesystem.
//
// An executable image may end in @sha256:<hex>, as a Revision's resolved
// image does; the executable must then have that digest.
type imageResolver struct {
	kube        kubernetes.Interface
	cmNamespace string
	cmName      string
	cacheDir    string
	// executableMaxBytes bounds the executables built from ko:// images
	// (collectExecutables); zero or less: no bound.
	executableMaxBytes int64
	moduleRoot         string // empty: found on first use
	goCommand          string
	buildTimeout       time.Duration
	// buildSlot lets one go build run at a time. Images built together
	// share most of their dependencies: the first build compiles them
	// and the rest find them in the build cache, where builds in
	// parallel would each compile them, on the same cores.
	buildSlot     chan struct{}
	resolveRoot   func() (string, error)
	resolveRootMu sync.Mutex

	mu sync.Mutex
	// resolved remembers what each image resolved to, for pull policies
	// that do not ask to resolve again.
	resolved map[string]image
	// builds deduplicates concurrent builds of the same import path.
	builds map[string]*sharedRun[image]
	// lifetime ends builds when the node stops; no pod waits for them
	// then.
	lifetime context.Context
	// hashes caches file digests by path, size and modification time.
	hashes map[string]hashEntry
	// registry pulls the images that are neither executables nor mapped.
	registry *registryImages
}

type hashEntry struct {
	size    int64
	modTime time.Time
	digest  string
}

func newImageResolver(kube kubernetes.Interface, s *settings) *imageResolver {
	return &imageResolver{
		kube:               kube,
		cmNamespace:        s.imagesNamespace,
		cmName:             s.imagesConfigName,
		cacheDir:           s.ImageCacheDir,
		executableMaxBytes: s.ExecutableCacheMaxBytes,
		moduleRoot:         s.ModuleRoot,
		goCommand:          "go",
		buildTimeout:       10 * time.Minute,
		buildSlot:          make(chan struct{}, 1),
		resolveRoot:        findModuleRoot,
		lifetime:           context.Background(),
		resolved:           map[string]image{},
		builds:             map[string]*sharedRun[image]{},
		hashes:             map[string]hashEntry{},
		registry:           newRegistryImages(kube, filepath.Join(s.ImageCacheDir, "oci"), s.ImageCacheMaxBytes),
	}
}

// resolve returns the executable for img, or the registry image it names.
// With pull policy Always (the API's default for untagged images, which
// ko:// ones are) a ko:// image is rebuilt, so that edited code runs;
// otherwise an earlier result is reused. pod (nil in some tests) brings
// the pull secrets of a registry image.
func (r *imageResolver) resolve(ctx context.Context, pod *corev1.Pod, img string, policy corev1.PullPolicy) (image, error) {
	if policy != corev1.PullAlways {
		r.mu.Lock()
		got, ok := r.resolved[img]
		r.mu.Unlock()
		if ok {
			if _, err := os.Stat(got.path); err == nil {
				r.touch(got.path, time.Now())
				return got, nil
			}
		}
	}
	name, want := splitDigest(img)
	var got image
	var err error
	switch {
	case strings.HasPrefix(name, KoPrefix):
		if err := neverResolved(img, policy); err != nil {
			return image{}, err
		}
		got, err = r.build(ctx, strings.TrimPrefix(name, KoPrefix), want)
	case filepath.IsAbs(name):
		if err := neverResolved(img, policy); err != nil {
			return image{}, err
		}
		got, err = r.file(name)
	default:
		got, err = r.fromConfigMap(ctx, name)
		if errors.Is(err, errNotMapped) {
			return r.fromRegistry(ctx, pod, img, policy)
		}
		if err == nil {
			err = neverResolved(img, policy)
		}
	}
	if err != nil {
		return image{}, err
	}
	if want != "" && got.digest != want {
		return image{}, &errImage{msg: fmt.Sprintf("image %q resolved to %s whose digest is sha256:%s, not the sha256:%s the image names", img, got.path, got.digest, want)}
	}
	r.mu.Lock()
	r.resolved[img] = got
	r.mu.Unlock()
	return got, nil
}

// neverResolved refuses, under pull policy Never, an executable image this
// node has not resolved before (resolve found none).
func neverResolved(img string, policy corev1.PullPolicy) error {
	if policy == corev1.PullNever {
		return &errImage{msg: fmt.Sprintf("image %q has not been resolved on this node and its imagePullPolicy is Never", img)}
	}
	return nil
}

// fromRegistry pulls img. A failure also says how to map the image to an
// executable instead, which may be what its author meant.
func (r *imageResolver) fromRegistry(ctx context.Context, pod *corev1.Pod, img string, policy corev1.PullPolicy) (image, error) {
	oci, err := r.registry.pull(ctx, img, policy, pod)
	if err != nil {
		var ie *errImage
		if errors.As(err, &ie) {
			return image{}, &errImage{msg: fmt.Sprintf("%s (to run an executable of this node instead, map the image in ConfigMap %s/%s: data: %q: /absolute/path)", ie.msg, r.cmNamespace, r.cmName, ImagesConfigMapKey(img))}
		}
		return image{}, err
	}
	_, digest, _ := strings.Cut(oci.id, "@sha256:")
	return image{digest: digest, oci: oci}, nil
}

// ImagesConfigMapKey is the key of an image in the images ConfigMap: the
// image with every character a ConfigMap key may not hold ('/', ':', '@')
// replaced by '_', so that "registry.example/app:v1" is
// "registry.example_app_v1". A plain name is its own key.
func ImagesConfigMapKey(img string) string {
	b := []byte(img)
	for i, c := range b {
		ok := c == '-' || c == '.' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// splitDigest splits "name@sha256:<hex>" into name and hex.
func splitDigest(img string) (name, digest string) {
	if i := strings.LastIndex(img, "@sha256:"); i >= 0 {
		return img[:i], img[i+len("@sha256:"):]
	}
	return img, ""
}

// file resolves an absolute path.
func (r *imageResolver) file(p string) (image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return image{}, &errImage{msg: fmt.Sprintf("executable %s: %v", p, err)}
	}
	if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return image{}, &errImage{msg: fmt.Sprintf("%s is not an executable file", p)}
	}
	r.mu.Lock()
	h, ok := r.hashes[p]
	r.mu.Unlock()
	if ok && h.size == st.Size() && h.modTime.Equal(st.ModTime()) {
		return image{path: p, digest: h.digest}, nil
	}
	digest, err := fileDigest(p)
	if err != nil {
		return image{}, err
	}
	r.mu.Lock()
	r.hashes[p] = hashEntry{size: st.Size(), modTime: st.ModTime(), digest: digest}
	r.mu.Unlock()
	return image{path: p, digest: digest}, nil
}

// fromConfigMap looks the image up in the images ConfigMap, read anew each
// time so that a fix applies to the next retry; errNotMapped: the
// ConfigMap does not map it.
func (r *imageResolver) fromConfigMap(ctx context.Context, img string) (image, error) {
	key := ImagesConfigMapKey(img)
	cm, err := r.kube.CoreV1().ConfigMaps(r.cmNamespace).Get(ctx, r.cmName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return image{}, errNotMapped
	}
	if err != nil {
		return image{}, fmt.Errorf("reading ConfigMap %s/%s: %w", r.cmNamespace, r.cmName, err)
	}
	v, ok := cm.Data[key]
	if !ok {
		return image{}, errNotMapped
	}
	p, user, err := parseImageMapping(v)
	if err != nil {
		return image{}, &errImage{msg: fmt.Sprintf("ConfigMap %s/%s maps image %q to %q: %v", r.cmNamespace, r.cmName, img, v, err)}
	}
	var got image
	switch {
	case strings.HasPrefix(p, KoPrefix):
		// A Go import path: the image's program built from its pinned
		// module, as local mode runs NATS's upstream image.
		got, err = r.build(ctx, strings.TrimPrefix(p, KoPrefix), "")
	case filepath.IsAbs(p):
		got, err = r.file(p)
	default:
		return image{}, &errImage{msg: fmt.Sprintf("ConfigMap %s/%s maps image %q to %q, which is neither an absolute path nor ko://<Go import path>", r.cmNamespace, r.cmName, img, p)}
	}
	if err != nil {
		return image{}, err
	}
	got.user = user
	return got, nil
}

// build builds importPath, once at a time per import path: pods started
// together share one build.
func (r *imageResolver) build(ctx context.Context, importPath, want string) (image, error) {
	if want != "" {
		// A digest the cache already holds needs no build.
		p := filepath.Join(r.cacheDir, "sha256-"+want)
		if _, err := os.Stat(p); err == nil {
			r.touch(p, time.Now())
			return image{path: p, digest: want}, nil
		}
	}
	r.mu.Lock()
	// Builds end when the node stops, whoever waits for them.
	lifetime := r.lifetime
	r.mu.Unlock()
	return joinRun(ctx, &r.mu, r.builds, importPath, func() (image, error) {
		return r.goBuild(lifetime, importPath)
	})
}

// goBuild runs go build the way ko does (static, trimmed paths, no VCS
// stamp, so that the same source gives the same digest), one build at a
// time, and copies the result into the cache under its digest.
func (r *imageResolver) goBuild(lifetime context.Context, importPath string) (image, error) {
	select {
	case r.buildSlot <- struct{}{}:
		defer func() { <-r.buildSlot }()
	case <-lifetime.Done():
		return image{}, lifetime.Err()
	}
	root, err := r.root()
	if err != nil {
		return image{}, err
	}
	// go build skips the link when its output is already what it would
	// write, which saves seconds per image on every node start: so each
	// import path (of each checkout) is built at one place, and only
	// copied into the cache under its digest.
	outDir := filepath.Join(r.cacheDir, "build")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return image{}, err
	}
	key := sha256.Sum256([]byte(root + "\x00" + importPath))
	out := filepath.Join(outDir, fmt.Sprintf("%s-%x", path.Base(importPath), key[:8]))
	// Nodes in other processes share the cache.
	unlock, err := lockFile(out + ".lock")
	if err != nil {
		return image{}, err
	}
	defer unlock()

	ctx, cancel := context.WithTimeout(lifetime, r.buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.goCommand, "build", "-trimpath", "-buildvcs=false", "-o", out, importPath)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return image{}, &errImage{msg: fmt.Sprintf("building %s%s in %s: %v\n%s", KoPrefix, importPath, root, err, tailBytes(output.Bytes(), 2048))}
	}
	// go build leaves an output it would not change as it was.
	now := time.Now()
	r.touch(out, now)
	built, err := r.file(out)
	if err != nil {
		return image{}, err
	}
	digest := built.digest
	final := filepath.Join(r.cacheDir, "sha256-"+digest)
	if _, err := os.Stat(final); err == nil {
		r.touch(final, now)
		return image{path: final, digest: digest}, nil
	}
	// A copy, not a link: the next build rewrites out, and final may be
	// running by then.
	if err := copyExecutable(out, final); err != nil {
		return image{}, err
	}
	r.collectExecutables(now)
	return image{path: final, digest: digest}, nil
}

// copyExecutable copies src to dst (mode 0755) through a temporary file,
// so that dst appears whole or not at all.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// lockFile takes an exclusive lock on path, creating it; the returned
// function releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}

// stopBuildsWith ends builds, running and to come, when ctx ends.
func (r *imageResolver) stopBuildsWith(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lifetime = ctx
}

// root is the module ko:// images are built in.
func (r *imageResolver) root() (string, error) {
	r.resolveRootMu.Lock()
	defer r.resolveRootMu.Unlock()
	if r.moduleRoot != "" {
		return r.moduleRoot, nil
	}
	root, err := r.resolveRoot()
	if err != nil {
		return "", &errImage{msg: fmt.Sprintf("ko:// images are built in the flywheel.dev module, and %v; set the node's ModuleRoot", err)}
	}
	r.moduleRoot = root
	return root, nil
}

// findModuleRoot walks up from the working directory to the go.mod of
// module flywheel.dev.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == "flywheel.dev" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the working directory is not inside it")
		}
		dir = parent
	}
}

// modulePath is the module path a go.mod declares.
func modulePath(gomod []byte) string {
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// entrypoint is the executable and argv of a container: the image's
// executable with args when command is empty, else command[0] (the image's
// executable when it names ko's /ko-app/ path, else an absolute path or a
// program on PATH) with the rest of command and args.
func entrypoint(img image, command, args []string, envPath string) (string, []string, error) {
	if len(command) == 0 {
		return img.path, append([]string{img.path}, args...), nil
	}
	argv := append(append([]string{}, command...), args...)
	prog := command[0]
	switch {
	case strings.HasPrefix(prog, koAppDir):
		return img.path, argv, nil
	case filepath.IsAbs(prog):
		return prog, argv, nil
	}
	for dir := range strings.SplitSeq(envPath, ":") {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, argv, nil
		}
	}
	return "", nil, fmt.Errorf("command %q: not found in PATH %s", prog, envPath)
}

func fileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
