package containerinit

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// RootPlan is a container's filesystem: a tmpfs mounted at Dir (a
// directory the node made under the pod's sandbox directory), filled by
// Ops in order, then made the root. The host's root stays visible through
// bind mounts of its entries, except where the plan puts something of the
// pod's own.
//
// With Overlay set, Dir gets an overlay filesystem instead: an image's
// unpacked root filesystem under a writable layer of the container's own,
// and nothing of the host's shows but what Ops bind.
type RootPlan struct {
	Dir     string    `json:"dir"`
	Ops     []MountOp `json:"ops"`
	Overlay *Overlay  `json:"overlay,omitempty"`
}

// Overlay is a container's root filesystem made of a registry image:
// Lower, the image's unpacked layers, shared by every container of the
// image and never written; Upper and Work, empty directories of this
// container's run (on one filesystem, as overlayfs requires), which take
// its writes and go with it.
type Overlay struct {
	Lower string `json:"lower"`
	Upper string `json:"upper"`
	Work  string `json:"work"`
}

// MountOp is one step of a RootPlan. Target is a path inside the
// container; Source, for binds, a path on the host.
type MountOp struct {
	Kind   OpKind `json:"kind"`
	Target string `json:"target"`
	Source string `json:"source,omitempty"`
	// File marks a bind of something that is not a directory.
	File     bool `json:"file,omitempty"`
	ReadOnly bool `json:"readOnly,omitempty"`
	// Writable marks a bind of the pod's own directory (an emptyDir, the
	// pod's /tmp): mount points for nested mounts may be made in it.
	Writable bool `json:"writable,omitempty"`
	// Data is a tmpfs's or devpts's mount options.
	Data string `json:"data,omitempty"`
	// Skip names entries a mirror leaves out.
	Skip []string `json:"skip,omitempty"`
	// BestEffort ops may fail (devpts where the kernel refuses a new
	// instance).
	BestEffort bool `json:"bestEffort,omitempty"`
}

// OpKind is what a MountOp does.
type OpKind string

const (
	// OpMirror makes Target (a host directory at the same path) a tmpfs
	// holding binds of the host directory's entries, so that entries can
	// be added and replaced without touching the host.
	OpMirror OpKind = "mirror"
	// OpBind binds Source at Target (recursively, for directories).
	OpBind OpKind = "bind"
	// OpTmpfs mounts a tmpfs at Target, with Data its options.
	OpTmpfs OpKind = "tmpfs"
	// OpDevpts mounts a devpts instance at Target, with Data its options.
	OpDevpts OpKind = "devpts"
	// OpCgroup2 mounts the cgroup v2 hierarchy as the process's cgroup
	// namespace sees it.
	OpCgroup2 OpKind = "cgroup2"
	// OpCgroup1 mounts the cgroup v1 hierarchy of the controllers Data
	// lists (comma-separated, all those bound to it), as the process's
	// cgroup namespace sees it.
	OpCgroup1 OpKind = "cgroup"
	// OpSymlink makes Target a symbolic link to Source.
	OpSymlink OpKind = "symlink"
	// OpReadOnly makes the mount tree at Target read-only.
	OpReadOnly OpKind = "readOnly"
)

// dirKind says what may be done under a directory of the container's
// filesystem when a mount point is missing there.
type dirKind int

const (
	// dirHost is a bind of the host's directory at the same path: it is
	// mirrored before anything is added.
	dirHost dirKind = iota
	// dirOwned belongs to the container or pod: mount points are made in
	// it.
	dirOwned
	// dirFixed is a read-only volume: nothing is added.
	dirFixed
)

// rootBuilder carries out a RootPlan in the container init's own mount
// namespace, before the new root is entered.
type rootBuilder struct {
	root    string
	kinds   map[string]dirKind
	applied []MountOp
}

// buildRoot carries out plan and makes its directory the process's root.
func buildRoot(plan *RootPlan) error {
	// Nothing done here may reach the host: mounts propagate from the
	// host into the container, never back.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making the mount namespace a slave of the host's: %w", err)
	}
	if o := plan.Overlay; o != nil {
		// No nosuid or nodev: an image's setuid programs and device
		// nodes work as under a container runtime.
		data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", o.Lower, o.Upper, o.Work)
		if err := unix.Mount("overlay", plan.Dir, "overlay", 0, data); err != nil {
			return fmt.Errorf("mounting the image's root filesystem (overlay %s) at %s: %w", data, plan.Dir, err)
		}
	} else if err := unix.Mount("tmpfs", plan.Dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=1m"); err != nil {
		return fmt.Errorf("mounting the root tmpfs at %s: %w", plan.Dir, err)
	}
	b := &rootBuilder{root: plan.Dir, kinds: map[string]dirKind{"/": dirOwned}}
	for _, op := range plan.Ops {
		if err := b.apply(op); err != nil {
			if op.BestEffort {
				continue
			}
			return err
		}
	}
	if err := detachNamespaceMounts(plan.Dir); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching
	// it leaves the new root alone.
	if err := unix.Chdir(plan.Dir); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", plan.Dir, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	return unix.Chdir("/")
}

func (b *rootBuilder) apply(op MountOp) error {
	err := b.applyOnce(op)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op.Kind, op.Target, err)
	}
	b.applied = append(b.applied, op)
	return nil
}

func (b *rootBuilder) applyOnce(op MountOp) error {
	switch op.Kind {
	case OpMirror:
		if op.Target == "/" {
			return b.populate("/", "/", op.Skip)
		}
		if _, err := b.ensure(op.Target, true); err != nil {
			return err
		}
		return b.mirror(op.Target, op.Skip)
	case OpBind:
		dst, err := b.ensure(op.Target, !op.File)
		if err != nil {
			return err
		}
		if err := unix.Mount(op.Source, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding %s: %w", op.Source, err)
		}
		if op.ReadOnly {
			if err := readOnlyTree(dst); err != nil {
				return err
			}
		}
		if !op.File {
			switch {
			case op.ReadOnly:
				b.kinds[b.rel(dst)] = dirFixed
			case op.Writable:
				b.kinds[b.rel(dst)] = dirOwned
			case op.Source == op.Target:
				b.kinds[b.rel(dst)] = dirHost
			default:
				b.kinds[b.rel(dst)] = dirFixed
			}
		}
		return nil
	case OpTmpfs, OpDevpts, OpCgroup2, OpCgroup1:
		dst, err := b.ensure(op.Target, true)
		if err != nil {
			return err
		}
		fstype := string(op.Kind)
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		switch op.Kind {
		case OpDevpts:
			flags = unix.MS_NOSUID | unix.MS_NOEXEC
		case OpCgroup2, OpCgroup1:
			flags |= unix.MS_NOEXEC
		}
		if err := unix.Mount(fstype, dst, fstype, flags, op.Data); err != nil {
			return err
		}
		if op.ReadOnly {
			if err := readOnlyTree(dst); err != nil {
				return err
			}
		}
		b.kinds[b.rel(dst)] = dirOwned
		return nil
	case OpSymlink:
		dir, err := b.ensure(path.Dir(op.Target), true)
		if err != nil {
			return err
		}
		return os.Symlink(op.Source, path.Join(dir, path.Base(op.Target)))
	case OpReadOnly:
		dst, err := b.ensure(op.Target, true)
		if err != nil {
			return err
		}
		// A directory that is not a mount of its own (/proc/sys) becomes
		// one first.
		if err := unix.Mount(dst, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		return readOnlyTree(dst)
	}
	return fmt.Errorf("unknown mount op %q", op.Kind)
}

// rel is a path under the root as the container sees it.
func (b *rootBuilder) rel(p string) string {
	r := strings.TrimPrefix(p, b.root)
	if r == "" {
		return "/"
	}
	return r
}

// kind is the kind of the nearest recorded ancestor of p (inclusive).
func (b *rootBuilder) kind(p string) dirKind {
	for {
		if k, ok := b.kinds[p]; ok {
			return k
		}
		if p == "/" {
			return dirOwned
		}
		p = path.Dir(p)
	}
}

// ensure resolves p inside the root (symbolic links are resolved against
// the root, never the host's) and makes what is missing: a directory, or
// for the last element a file when dir is false. It returns the resolved
// path on the host side of the root.
func (b *rootBuilder) ensure(p string, dir bool) (string, error) {
	comps := SplitPath(p)
	cur := "/"
	hops := 0
	for i := 0; i < len(comps); i++ {
		c := comps[i]
		if c == ".." {
			cur = path.Dir(cur)
			continue
		}
		last := i == len(comps)-1
		next := path.Join(cur, c)
		fi, err := os.Lstat(b.root + next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := b.makeWritable(cur); err != nil {
				return "", err
			}
			if last && !dir {
				f, err := os.OpenFile(b.root+next, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return "", err
				}
				f.Close()
			} else if err := os.Mkdir(b.root+next, 0o755); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many symbolic links", p)
			}
			target, err := os.Readlink(b.root + next)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				cur = "/"
			}
			comps = append(SplitPath(target), comps[i+1:]...)
			i = -1
			continue
		case !last && !fi.IsDir():
			return "", fmt.Errorf("%s: %s is not a directory", p, next)
		}
		cur = next
	}
	return b.root + cur, nil
}

// makeWritable lets an entry be added to dir (a path in the container):
// a host directory is mirrored first; a read-only volume refuses.
func (b *rootBuilder) makeWritable(dir string) error {
	switch b.kind(dir) {
	case dirOwned:
		return nil
	case dirHost:
		return b.mirror(dir, nil)
	}
	return fmt.Errorf("cannot make a mount point in %s: it is a read-only volume", dir)
}

// mirror replaces the host directory at dir with a tmpfs holding binds of
// its entries, then applies again what was mounted under dir before, which
// the tmpfs hides.
func (b *rootBuilder) mirror(dir string, skip []string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	data := fmt.Sprintf("mode=%o,size=1m", st.Mode&0o7777)
	if err := unix.Mount("tmpfs", b.root+dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mirroring %s: %w", dir, err)
	}
	b.kinds[dir] = dirOwned
	if err := b.populate(dir, dir, skip); err != nil {
		return err
	}
	for _, op := range b.applied {
		if strings.HasPrefix(op.Target, dir+"/") {
			if err := b.applyOnce(op); err != nil {
				return fmt.Errorf("%s %s again after mirroring %s: %w", op.Kind, op.Target, dir, err)
			}
		}
	}
	return nil
}

// populate fills target (an empty directory of the root) with the entries
// of the host directory src: directories and files as binds, symbolic
// links as copies.
func (b *rootBuilder) populate(src, target string, skip []string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if slices.Contains(skip, e.Name()) {
			continue
		}
		from, to := path.Join(src, e.Name()), b.root+path.Join(target, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(from)
			if err != nil {
				continue // gone meanwhile
			}
			if err := os.Symlink(l, to); err != nil {
				return err
			}
		case e.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if err := unix.Mount(from, to, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return fmt.Errorf("binding %s: %w", from, err)
			}
			b.kinds[path.Join(target, e.Name())] = dirHost
		default:
			f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			f.Close()
			if err := unix.Mount(from, to, "", unix.MS_BIND, ""); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return fmt.Errorf("binding %s: %w", from, err)
			}
		}
	}
	return nil
}

// detachNamespaceMounts unmounts the namespace files (other pods'
// /var/run/netns entries) the binds of host directories copied under
// root. Where the host's mounts are private, unmounting them on the host
// would not reach these copies, which would keep every pod's network
// namespace alive as long as this container runs.
func detachNamespaceMounts(root string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var nsfs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 || !strings.HasPrefix(post, "nsfs ") {
			continue
		}
		if mp := UnescapeMountinfo(fields[4]); Under(mp, root) {
			nsfs = append(nsfs, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, mp := range nsfs {
		// EINVAL: no longer a mount point; ENOENT: gone altogether, the
		// other pod's namespace unmounted on the host (and its copy here
		// with it) since mountinfo was read. A CI run's container failed
		// to start on the second. Either way nothing is left to detach.
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detaching %s: %w", mp, err)
		}
	}
	return nil
}

// readOnlyTree makes the mount at p and every mount below it read-only,
// keeping their other flags.
func readOnlyTree(p string) error {
	err := unix.MountSetattr(-1, p, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if err == nil || !errors.Is(err, unix.ENOSYS) {
		return err
	}
	// Kernels before 5.12: remount each mount of the tree.
	mounts, err := mountsUnder(p)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		var st unix.Statfs_t
		if err := unix.Statfs(m, &st); err != nil {
			continue
		}
		keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
		if err := unix.Mount("", m, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", m, err)
		}
	}
	return nil
}

// mountsUnder lists the mount points at or below p, parents first.
func mountsUnder(p string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := UnescapeMountinfo(fields[4])
		if mp == p || strings.HasPrefix(mp, p+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// UnescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func UnescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// SplitPath splits a slash-separated path into its non-empty elements,
// "." dropped.
func SplitPath(p string) []string {
	var out []string
	for c := range strings.SplitSeq(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}
