package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
)

// devices are the device nodes a container's /dev holds, bound from the
// host's: the set the OCI runtime spec requires of a Linux container.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// podFS is where a pod's own files live on the host, under its sandbox
// directory, and what its containers' filesystems are built from.
type podFS struct {
	// rootDir is the (empty) directory each container's root is mounted
	// on, inside the container's own mount namespace.
	rootDir string
	// tmpDir is the pod's /tmp, shared by its containers.
	tmpDir string
	// etcDir holds the pod's hosts, resolv.conf and hostname.
	etcDir string
	// homesDir holds each container's home directory (makeHome).
	homesDir string
	// layersDir holds the writable layer (overlay upper and work
	// directories) of each container run from a registry image.
	layersDir string
	// hideDir is the node's data directory, hidden from containers: it
	// holds every pod's volumes.
	hideDir string
	// volumes are the pod's volumes by name.
	volumes map[string]volumeDir
	// volumesReady projects again the API data volumes that could not be
	// projected yet and says why any still cannot; nil: all are ready.
	volumesReady func(ctx context.Context) error
	// cgroupNS is set when containers run in cgroups and cgroup
	// namespaces of their own (the node has cgroups): /sys/fs/cgroup then
	// shows the container's cgroups.
	cgroupNS bool
}

// volumeDir is a volume's directory on the host.
type volumeDir struct {
	path string
	// writable volumes (emptyDir) may be mounted read-write; the API data
	// volumes (configMap, secret, downwardAPI, projected) are always
	// read-only, as the kubelet mounts them.
	writable bool
}

// etcFiles are the files of etcDir, mounted over the host's.
var etcFiles = []string{"hosts", "resolv.conf", "hostname"}

// homeDir is the home directory a container's image would have for its
// user: source (a directory on the host) at path; zero: none.
type homeDir struct {
	path, source string
}

// rootPlanFor is the filesystem of container c: the host's, with the
// pod's /tmp, a minimal /dev, the pod's /etc files, /proc/sys and /sys
// read-only (with the container's cgroups at /sys/fs/cgroup), the image's
// executable at /ko-app/<name>, the user's home directory and the
// container's volume mounts.
func rootPlanFor(fsys *podFS, c *corev1.Container, exe, exeName string, home homeDir) (*containerinit.RootPlan, error) {
	ops := []containerinit.MountOp{
		{Kind: containerinit.OpMirror, Target: "/", Skip: []string{"dev", "tmp"}},
	}
	ops = append(ops, podOps(fsys, true)...)
	if exe != "" {
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpBind, Source: exe, Target: koAppDir + exeName, File: true, ReadOnly: true})
	}
	if h := fsys.hideDir; h != "" && !containerinit.Under(h, "/tmp") && !containerinit.Under(h, "/dev") && h != "/" {
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpTmpfs, Target: h, Data: "mode=700,size=4k", ReadOnly: true})
	}
	if home.path != "" {
		// After the data directory's cover, which /root may hold; before
		// the volumes, which may be mounted inside it.
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpBind, Source: home.source, Target: home.path, Writable: true})
	}
	volumes, err := volumeOps(fsys, c)
	if err != nil {
		return nil, err
	}
	return &containerinit.RootPlan{Dir: fsys.rootDir, Ops: append(ops, volumes...)}, nil
}

// imageRootPlanFor is the filesystem of container c run from a registry
// image: the image's root filesystem (lower) under the writable layer of
// this run (upper and work, empty directories of the pod's), with the
// same pod files and volumes as rootPlanFor gives, and /proc and /sys
// bound from the host, since no host directory shows otherwise.
func imageRootPlanFor(fsys *podFS, c *corev1.Container, overlay containerinit.Overlay) (*containerinit.RootPlan, error) {
	ops := []containerinit.MountOp{
		// Source equal to Target marks these as the host's: mount points
		// made under them (cgroup views) mirror them first.
		{Kind: containerinit.OpBind, Source: "/proc", Target: "/proc"},
		{Kind: containerinit.OpBind, Source: "/sys", Target: "/sys"},
	}
	ops = append(ops, podOps(fsys, false)...)
	volumes, err := volumeOps(fsys, c)
	if err != nil {
		return nil, err
	}
	return &containerinit.RootPlan{Dir: fsys.rootDir, Ops: append(ops, volumes...), Overlay: &overlay}, nil
}

// podOps are the mounts every container of the pod gets, whatever its
// root: a minimal /dev, the pod's /tmp and /etc files, /proc/sys and /sys
// read-only, the container's cgroups at /sys/fs/cgroup. mirrorEtc keeps
// the rest of the host's /etc (a host root); an image's own /etc needs
// no mirror.
func podOps(fsys *podFS, mirrorEtc bool) []containerinit.MountOp {
	ops := []containerinit.MountOp{
		{Kind: containerinit.OpTmpfs, Target: "/dev", Data: "mode=755,size=64k"},
	}
	for _, d := range devices {
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpBind, Source: "/dev/" + d, Target: "/dev/" + d, File: true})
	}
	ops = append(ops,
		containerinit.MountOp{Kind: containerinit.OpDevpts, Target: "/dev/pts", Data: "newinstance,ptmxmode=0666,mode=0620", BestEffort: true},
		containerinit.MountOp{Kind: containerinit.OpSymlink, Source: "pts/ptmx", Target: "/dev/ptmx"},
		containerinit.MountOp{Kind: containerinit.OpTmpfs, Target: "/dev/shm", Data: "mode=1777,size=64m"},
		containerinit.MountOp{Kind: containerinit.OpSymlink, Source: "/proc/self/fd", Target: "/dev/fd"},
		containerinit.MountOp{Kind: containerinit.OpSymlink, Source: "/proc/self/fd/0", Target: "/dev/stdin"},
		containerinit.MountOp{Kind: containerinit.OpSymlink, Source: "/proc/self/fd/1", Target: "/dev/stdout"},
		containerinit.MountOp{Kind: containerinit.OpSymlink, Source: "/proc/self/fd/2", Target: "/dev/stderr"},
		containerinit.MountOp{Kind: containerinit.OpBind, Source: fsys.tmpDir, Target: "/tmp", Writable: true},
	)
	if mirrorEtc {
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpMirror, Target: "/etc", Skip: etcFiles})
	}
	for _, f := range etcFiles {
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpBind, Source: filepath.Join(fsys.etcDir, f), Target: "/etc/" + f, File: true})
	}
	ops = append(ops,
		containerinit.MountOp{Kind: containerinit.OpReadOnly, Target: "/proc/sys"},
		containerinit.MountOp{Kind: containerinit.OpReadOnly, Target: "/sys"},
	)
	if fsys.cgroupNS {
		// Mounted inside the container's cgroup namespace, each
		// hierarchy shows the container's own cgroup as its root.
		ops = append(ops, hostCgroups().viewOps("/sys/fs/cgroup")...)
	}
	return ops
}

// volumeOps binds the container's volume mounts.
func volumeOps(fsys *podFS, c *corev1.Container) ([]containerinit.MountOp, error) {
	var ops []containerinit.MountOp
	mounts := slices.Clone(c.VolumeMounts)
	// Parents before children, so that a nested mount lands in the volume
	// mounted above it.
	slices.SortStableFunc(mounts, func(a, b corev1.VolumeMount) int {
		return len(containerinit.SplitPath(a.MountPath)) - len(containerinit.SplitPath(b.MountPath))
	})
	for _, m := range mounts {
		v, ok := fsys.volumes[m.Name]
		if !ok {
			// Volumes of kinds the node does not provide were reported
			// when the pod started.
			continue
		}
		if !path.IsAbs(m.MountPath) {
			return nil, fmt.Errorf("volumeMount %s: mountPath %q is not absolute", m.Name, m.MountPath)
		}
		src, isDir, err := subPathSource(v, m.SubPath)
		if err != nil {
			return nil, fmt.Errorf("volumeMount %s at %s: %w", m.Name, m.MountPath, err)
		}
		ro := m.ReadOnly || !v.writable
		ops = append(ops, containerinit.MountOp{
			Kind: containerinit.OpBind, Source: src, Target: path.Clean(m.MountPath),
			File: !isDir, ReadOnly: ro, Writable: !ro,
		})
	}
	return ops, nil
}

// subPathSource is what a volume mount binds: the volume's directory or
// its subPath, whose symbolic links (an API data volume's files are links
// into its current data directory) are resolved now, within the volume.
// A missing subPath of a writable volume is made, as the kubelet does,
// with the volume's own mode: a subPath of an emptyDir is as writable as
// the emptyDir, for every user.
func subPathSource(v volumeDir, subPath string) (src string, isDir bool, err error) {
	if subPath == "" {
		return v.path, true, nil
	}
	if path.IsAbs(subPath) || slices.Contains(strings.Split(subPath, "/"), "..") {
		return "", false, fmt.Errorf("subPath %q must be a relative path without \"..\" elements", subPath)
	}
	p := filepath.Join(v.path, subPath)
	if _, err := os.Lstat(p); os.IsNotExist(err) && v.writable {
		if err := makeSubPath(v.path, subPath); err != nil {
			return "", false, err
		}
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false, fmt.Errorf("subPath %q: %w", subPath, err)
	}
	base, err := filepath.EvalSymlinks(v.path)
	if err != nil {
		return "", false, err
	}
	if !containerinit.Under(resolved, base) {
		return "", false, fmt.Errorf("subPath %q leads out of the volume", subPath)
	}
	st, err := os.Stat(resolved)
	if err != nil {
		return "", false, err
	}
	return resolved, st.IsDir(), nil
}

// makeSubPath makes the directories of subPath missing in volume dir, each
// with dir's mode (umask aside).
func makeSubPath(dir, subPath string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	mode := st.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky)
	cur := dir
	for _, elem := range containerinit.SplitPath(subPath) {
		cur = filepath.Join(cur, elem)
		err := os.Mkdir(cur, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Chmod(cur, mode); err != nil {
			return err
		}
	}
	return nil
}

// koAppName is the name of an image's executable under /ko-app: the last
// element of a ko:// import path, as ko names it, else of the file.
func koAppName(img string, exe string) string {
	if ip, ok := strings.CutPrefix(img, KoPrefix); ok {
		ip, _, _ = strings.Cut(ip, "@")
		return path.Base(ip)
	}
	return filepath.Base(exe)
}
