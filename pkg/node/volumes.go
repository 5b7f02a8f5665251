package node

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// defaultVolumeFileMode is the mode of an API data volume's files when the
// volume sets no defaultMode (the API server defaults it to the same).
const defaultVolumeFileMode = 0o644

// dataLink is the symbolic link an API data volume's files point through:
// it names the current data directory and is replaced in one rename, so a
// reader sees the old set of files or the new, never a mix. The layout is
// the kubelet's, which programs watching such volumes expect.
const dataLink = "..data"

// projectedFile is one file of an API data volume.
type projectedFile struct {
	data []byte
	mode fs.FileMode
}

// tokenRefreshAge is the age past which a projected token is refreshed
// whatever its expiry, as the kubelet does.
const tokenRefreshAge = 24 * time.Hour

// cachedToken is a service-account token a volume projected.
type cachedToken struct {
	token           string
	issued, expires time.Time
}

// due reports whether the token must be requested again at now: past 80 %
// of its life or older than a day, the kubelet's rule, so that a token in
// a pod is never close to expiring.
func (t cachedToken) due(now time.Time) bool {
	life := t.expires.Sub(t.issued)
	return !now.Before(t.issued.Add(life*8/10)) || !now.Before(t.issued.Add(tokenRefreshAge))
}

// projector computes the files of a pod's API data volumes from the API:
// configMap, secret, downwardAPI and projected (with service-account
// tokens from the TokenRequest API, kept until due for refresh).
type projector struct {
	kube  kubernetes.Interface
	clock clock.Clock
	// capacity stands in for unset limits in resourceFieldRef, as in the
	// environment.
	capacity corev1.ResourceList

	mu     sync.Mutex
	tokens map[string]cachedToken // by volume name and path
}

func newProjector(kube kubernetes.Interface, clk clock.Clock, capacity corev1.ResourceList) *projector {
	return &projector{kube: kube, clock: clk, capacity: capacity, tokens: map[string]cachedToken{}}
}

// isAPIVolume reports whether the node projects v's files from the API.
func isAPIVolume(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// project returns the files of API data volume v of pod, by path.
func (pr *projector) project(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, addrs podAddresses) (map[string]projectedFile, error) {
	files := map[string]projectedFile{}
	var err error
	switch {
	case v.ConfigMap != nil:
		err = pr.configMap(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, fileMode(v.ConfigMap.DefaultMode), files)
	case v.Secret != nil:
		err = pr.secret(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, fileMode(v.Secret.DefaultMode), files)
	case v.DownwardAPI != nil:
		err = pr.downwardAPI(pod, v.DownwardAPI.Items, addrs, fileMode(v.DownwardAPI.DefaultMode), files)
	case v.Projected != nil:
		err = pr.projected(ctx, pod, v, addrs, files)
	default:
		return nil, fmt.Errorf("volume %s is not an API data volume", v.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	for p := range files {
		if err := checkVolumePath(p); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	return files, nil
}

// projected fills files from the sources of projected volume v, read all
// at once: a pod's service-account volume asks for a token and reads the
// cluster's CA ConfigMap, two round trips to the API server that a
// starting pod would otherwise wait for one after the other. A later
// source's file of the same path wins, as when read in order.
func (pr *projector) projected(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, addrs podAddresses, files map[string]projectedFile) error {
	mode := fileMode(v.Projected.DefaultMode)
	sources := v.Projected.Sources
	parts := make([]map[string]projectedFile, len(sources))
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		parts[i] = map[string]projectedFile{}
		wg.Go(func() {
			switch {
			case src.ConfigMap != nil:
				errs[i] = pr.configMap(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode, parts[i])
			case src.Secret != nil:
				errs[i] = pr.secret(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, mode, parts[i])
			case src.DownwardAPI != nil:
				errs[i] = pr.downwardAPI(pod, src.DownwardAPI.Items, addrs, mode, parts[i])
			case src.ServiceAccountToken != nil:
				errs[i] = pr.token(ctx, pod, v.Name, src.ServiceAccountToken, mode, parts[i])
			default:
				errs[i] = fmt.Errorf("sources[%d]: only configMap, secret, downwardAPI and serviceAccountToken sources are supported by the process node", i)
			}
		})
	}
	wg.Wait()
	for i := range sources {
		if errs[i] != nil {
			return errs[i]
		}
		maps.Copy(files, parts[i])
	}
	return nil
}

func fileMode(m *int32) fs.FileMode {
	if m == nil {
		return defaultVolumeFileMode
	}
	return fs.FileMode(*m) & fs.ModePerm
}

func itemMode(item corev1.KeyToPath, def fs.FileMode) fs.FileMode {
	if item.Mode != nil {
		return fs.FileMode(*item.Mode) & fs.ModePerm
	}
	return def
}

// keyFiles adds data's keys as files: all of them, or the items named.
func keyFiles(kind, name string, data map[string][]byte, items []corev1.KeyToPath, optional *bool, mode fs.FileMode, files map[string]projectedFile) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = projectedFile{data: v, mode: mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if isTrue(optional) {
				continue
			}
			return fmt.Errorf("key %q is not in %s %s; add it or mark the source optional", it.Key, kind, name)
		}
		files[it.Path] = projectedFile{data: v, mode: itemMode(it, mode)}
	}
	return nil
}

func (pr *projector) configMap(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, mode fs.FileMode, files map[string]projectedFile) error {
	cm, err := pr.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && isTrue(optional) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s: %w", name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return keyFiles("ConfigMap", name, data, items, optional, mode, files)
}

func (pr *projector) secret(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, mode fs.FileMode, files map[string]projectedFile) error {
	s, err := pr.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && isTrue(optional) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", name, err)
	}
	return keyFiles("Secret", name, s.Data, items, optional, mode, files)
}

func (pr *projector) downwardAPI(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, addrs podAddresses, mode fs.FileMode, files map[string]projectedFile) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = downwardFieldFile(pod, it.FieldRef.FieldPath, addrs)
		case it.ResourceFieldRef != nil:
			v, err = pr.downwardResource(pod, it.ResourceFieldRef)
		default:
			err = fmt.Errorf("item %s names neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return err
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		files[it.Path] = projectedFile{data: []byte(v), mode: m}
	}
	return nil
}

// downwardFieldFile is a downward API field as a volume holds it: labels
// and annotations as sorted key="value" lines, the rest as in the
// environment.
func downwardFieldFile(pod *corev1.Pod, fieldPath string, addrs podAddresses) (string, error) {
	switch fieldPath {
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	return fieldValue(pod, fieldPath, addrs)
}

func formatMap(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

func (pr *projector) downwardResource(pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name == ref.ContainerName || (ref.ContainerName == "" && len(pod.Spec.Containers) == 1) {
			return (&envResolver{capacity: pr.capacity}).resourceValue(c, ref)
		}
	}
	return "", fmt.Errorf("resourceFieldRef names container %q, which the pod does not have", ref.ContainerName)
}

// token projects a service-account token bound to the pod, reusing the
// last one until it is due for refresh.
func (pr *projector) token(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.ServiceAccountTokenProjection, mode fs.FileMode, files map[string]projectedFile) error {
	key := volume + "/" + src.Path
	now := pr.clock.Now()
	pr.mu.Lock()
	t, ok := pr.tokens[key]
	pr.mu.Unlock()
	if !ok || t.due(now) {
		sa := pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		var audiences []string
		if src.Audience != "" {
			audiences = []string{src.Audience}
		}
		exp := src.ExpirationSeconds
		if exp == nil {
			exp = ptr.To[int64](3600)
		}
		tr, err := pr.kube.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{
				Audiences:         audiences,
				ExpirationSeconds: exp,
				BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("requesting a token for ServiceAccount %s: %w", sa, err)
		}
		expires := tr.Status.ExpirationTimestamp.Time
		if expires.IsZero() {
			expires = now.Add(time.Duration(*exp) * time.Second)
		}
		t = cachedToken{token: tr.Status.Token, issued: now, expires: expires}
		pr.mu.Lock()
		pr.tokens[key] = t
		pr.mu.Unlock()
	}
	files[src.Path] = projectedFile{data: []byte(t.token), mode: mode}
	return nil
}

// checkVolumePath refuses file paths that would leave the volume.
func checkVolumePath(p string) error {
	if p == "" || path.IsAbs(p) || strings.HasPrefix(p, "..") || slices.Contains(strings.Split(p, "/"), "..") {
		return fmt.Errorf("path %q must be relative, without \"..\" elements and not start with \"..\"", p)
	}
	return nil
}

// writeAtomic makes dir hold exactly files: they are written to a new
// data directory, dataLink is switched to it in one rename, and each
// top-level name is a link through dataLink. Nothing is written when the
// files are already there. It reports whether anything changed.
func writeAtomic(dir string, files map[string]projectedFile) (bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	if old != "" && sameFiles(filepath.Join(dir, old), files) {
		return false, nil
	}
	data, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(data, 0o755); err != nil {
		return false, err
	}
	for p, f := range files {
		full := filepath.Join(data, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return false, err
		}
		// WriteFile's mode is masked by the umask.
		if err := os.Chmod(full, f.mode); err != nil {
			return false, err
		}
	}
	tmpLink := filepath.Join(dir, dataLink+"_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(data), tmpLink); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataLink, name) {
			continue
		}
		tmp := link + ".tmp"
		_ = os.Remove(tmp)
		if err := os.Symlink(filepath.Join(dataLink, name), tmp); err != nil {
			return false, err
		}
		if err := os.Rename(tmp, link); err != nil {
			return false, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataLink || name == filepath.Base(data):
		case strings.HasPrefix(name, ".."):
			// An older data directory, now unused.
			_ = os.RemoveAll(filepath.Join(dir, name))
		case e.Type()&fs.ModeSymlink != 0 && !top[name]:
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return true, nil
}

// sameFiles reports whether data holds exactly files, with their modes.
func sameFiles(data string, files map[string]projectedFile) bool {
	var seen []string
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		seen = append(seen, rel)
		f, ok := files[rel]
		if !ok {
			return fs.ErrNotExist
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode {
			return fs.ErrInvalid
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, f.data) {
			return fs.ErrInvalid
		}
		return nil
	})
	return err == nil && len(seen) == len(files)
}

// sortedPaths lists the paths of files, for stable logs and tests.
func sortedPaths(files map[string]projectedFile) []string {
	out := slices.Collect(maps.Keys(files))
	sort.Strings(out)
	return out
}
