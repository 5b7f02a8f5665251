package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
)

// cpuPeriod is the CFS period of a CPU limit, the kernel's default (100 ms).
const cpuPeriod = 100000

// cgroupControllers are the controllers a container gets a cgroup of its
// own in, wherever the host binds them (v2, or a v1 hierarchy).
var cgroupControllers = []string{"memory", "cpu", "pids"}

// cgroupLayout is where the host mounts the cgroup hierarchies the node
// uses: cgroup v2 alone, v1 hierarchies alone, or both (a hybrid host,
// v2 at /sys/fs/cgroup/unified holding no controller, each controller in
// a v1 hierarchy of its own). Limits are only written where the
// controller is: writing memory.max in a v2 hierarchy without the memory
// controller sets nothing.
type cgroupLayout struct {
	// unified is where cgroup v2 is mounted; "" without it.
	unified string
	// v1 are the v1 hierarchies that hold one of cgroupControllers, the
	// memory one first.
	v1 []cgroupHierarchy
}

// cgroupHierarchy is a cgroup v1 hierarchy.
type cgroupHierarchy struct {
	mount string
	// controllers are the controllers bound to it, as a mount of the
	// hierarchy names them ("cpu", "cpuacct" where they are mounted
	// together).
	controllers []string
}

// hostCgroups is the layout of this host's cgroups, read once.
var hostCgroups = sync.OnceValue(func() cgroupLayout {
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	controllers, _ := os.ReadFile("/proc/cgroups")
	return parseCgroupLayout(string(mountinfo), string(controllers))
})

// parseCgroupLayout reads a cgroup layout from /proc/self/mountinfo and
// the controller list of /proc/cgroups.
func parseCgroupLayout(mountinfo, procCgroups string) cgroupLayout {
	known := map[string]bool{}
	for line := range strings.SplitSeq(procCgroups, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			known[f[0]] = true
		}
	}
	var l cgroupLayout
	sc := bufio.NewScanner(strings.NewReader(mountinfo))
	for sc.Scan() {
		// Fields after " - " are the filesystem type, source and options.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		pf, fields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(pf) < 5 || len(fields) < 3 {
			continue
		}
		mount := containerinit.UnescapeMountinfo(pf[4])
		switch fields[0] {
		case "cgroup2":
			if l.unified == "" {
				l.unified = mount
			}
		case "cgroup":
			var h cgroupHierarchy
			for o := range strings.SplitSeq(fields[2], ",") {
				if known[o] {
					h.controllers = append(h.controllers, o)
				}
			}
			if !slices.ContainsFunc(h.controllers, func(c string) bool { return slices.Contains(cgroupControllers, c) }) {
				continue
			}
			// A hierarchy mounted twice (bound elsewhere) counts once.
			if slices.ContainsFunc(l.v1, func(o cgroupHierarchy) bool { return slices.Equal(o.controllers, h.controllers) }) {
				continue
			}
			h.mount = mount
			l.v1 = append(l.v1, h)
		}
	}
	rank := func(h cgroupHierarchy) int {
		for i, c := range cgroupControllers {
			if slices.Contains(h.controllers, c) {
				return i
			}
		}
		return len(cgroupControllers)
	}
	slices.SortStableFunc(l.v1, func(a, b cgroupHierarchy) int { return rank(a) - rank(b) })
	return l
}

// root is the hierarchy a cgroup is named in: cgroup v2 where it is
// mounted, else the first v1 hierarchy. The node state records a cgroup
// by its path there; the same path under each other hierarchy's mount is
// its directory there.
func (l cgroupLayout) root() string {
	if l.unified != "" {
		return l.unified
	}
	if len(l.v1) > 0 {
		return l.v1[0].mount
	}
	return ""
}

// cgroupDirs is one cgroup of the node's (the node's, a pod's or a
// container's) as directories in each hierarchy.
type cgroupDirs struct {
	// unified is its v2 directory; "" on a host without cgroup v2.
	unified string
	// v1 are its directories in the v1 hierarchies, in layout order.
	v1 []cgroupHierarchy
}

// dirs lays out the cgroup named p. A path outside the host's hierarchies
// (a test's directory) is taken as a v2 cgroup alone.
func (l cgroupLayout) dirs(p string) cgroupDirs {
	root := l.root()
	if root == "" || !containerinit.Under(p, root) {
		return cgroupDirs{unified: p}
	}
	rel := strings.TrimPrefix(p, root)
	var d cgroupDirs
	if l.unified != "" {
		d.unified = l.unified + rel
	}
	for _, h := range l.v1 {
		d.v1 = append(d.v1, cgroupHierarchy{mount: h.mount + rel, controllers: h.controllers})
	}
	return d
}

// all lists the cgroup's directories, the v2 one first.
func (d cgroupDirs) all() []string {
	var out []string
	if d.unified != "" {
		out = append(out, d.unified)
	}
	for _, h := range d.v1 {
		out = append(out, h.mount)
	}
	return out
}

// controller returns the directory holding a controller's files, and
// whether it is a v1 one; "" when the host has the controller nowhere.
func (d cgroupDirs) controller(name string) (dir string, v1 bool) {
	for _, h := range d.v1 {
		if slices.Contains(h.controllers, name) {
			return h.mount, true
		}
	}
	return d.unified, false
}

// cgroupPlacement says how a process gets into the cgroup named p: it is
// cloned into the v2 directory (unified, when there is one), then moved
// into the v1 ones before it runs anything of the container's.
func cgroupPlacement(p string) (unified string, v1 []string) {
	d := hostCgroups().dirs(p)
	for _, h := range d.v1 {
		v1 = append(v1, h.mount)
	}
	return d.unified, v1
}

// joinCgroups moves process pid (all its threads) into each of dirs.
func joinCgroups(pid int, dirs []string) error {
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("moving process %d into cgroup %s: %w", pid, dir, err)
		}
	}
	return nil
}

// makeCgroup makes the cgroup named p in every hierarchy.
func makeCgroup(p string) error {
	for _, dir := range hostCgroups().dirs(p).all() {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// enableControllers turns on, in dir's children, the controllers among
// memory, cpu and pids that the v2 cgroup dir has. Limits need them;
// placing and killing processes does not, so a failure only loses the
// limits.
func enableControllers(dir string) {
	if dir == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return
	}
	have := strings.Fields(string(b))
	for _, c := range cgroupControllers {
		if slices.Contains(have, c) {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0o644)
		}
	}
}

// newNodeCgroup makes the node's cgroup, the parent of its pods', at the
// top of each hierarchy (in cgroup v2 a cgroup holding processes, like the
// node's own, cannot pass controllers on). record notes it in the node
// state first. It returns "" when the host has no cgroup hierarchy the
// node can write: pods then run without cgroups.
func newNodeCgroup(name string, record func(string) error) (string, error) {
	l := hostCgroups()
	root := l.root()
	if root == "" || unix.Access(root, unix.W_OK) != nil {
		return "", nil
	}
	dir := filepath.Join(root, "flywheel-"+name)
	if err := record(dir); err != nil {
		return "", err
	}
	if err := makeCgroup(dir); err != nil {
		_ = removeCgroup(dir)
		return "", nil
	}
	d := l.dirs(dir)
	if l.unified != "" {
		enableControllers(l.unified)
	}
	enableControllers(d.unified)
	return dir, nil
}

// podCgroup is the sandbox part holding a pod's cgroup under the node's:
// one child per container, so that each container's limits apply to it
// and stopping it (cgroup.kill) ends every process it started, wherever
// they went. Tearing down kills whatever is left and removes them.
type podCgroup struct {
	dir    string
	record func(dir string) error
}

func (c *podCgroup) setUp(context.Context, *sandbox) error {
	if err := c.record(c.dir); err != nil {
		return err
	}
	if err := makeCgroup(c.dir); err != nil {
		return fmt.Errorf("making the pod's cgroup %s: %w", c.dir, err)
	}
	enableControllers(hostCgroups().dirs(c.dir).unified)
	return nil
}

func (c *podCgroup) tearDown(*sandbox) error { return removeCgroup(c.dir) }

// container makes (or keeps) the cgroup of the named container and sets
// its limits, as far as the controllers allow. It returns the cgroup's
// name.
func (c *podCgroup) container(name string, res corev1.ResourceRequirements) (string, error) {
	dir := filepath.Join(c.dir, name)
	if err := makeCgroup(dir); err != nil {
		return "", fmt.Errorf("making the container's cgroup %s: %w", dir, err)
	}
	d := hostCgroups().dirs(dir)
	for _, f := range cgroupLimits(res, func(name string) bool { _, v1 := d.controller(name); return v1 }) {
		if cdir, _ := d.controller(f.controller); cdir != "" {
			// A controller the host lacks leaves the container
			// unlimited, as the node's machine capacity would.
			_ = os.WriteFile(filepath.Join(cdir, f.name), []byte(f.value), 0o644)
		}
	}
	return dir, nil
}

// cgroupFile is a control file and what a container's resources write
// to it.
type cgroupFile struct {
	controller, name, value string
}

// cgroupLimits are the control files setting a container's limits, in the
// order they are written, for each controller in its v1 or v2 form as v1
// says:
//
//   - memory: the limit in bytes (memory.max; v1 memory.limit_in_bytes),
//     unlimited when unset, without swap beyond it; on v2 an OOM kill ends
//     the whole container (memory.oom.group), as a kubelet sets it;
//   - cpu: the limit as a CFS quota per 100 ms period (cpu.max; v1
//     cpu.cfs_quota_us and cpu.cfs_period_us), the request as a weight
//     (cpu.shares: 1024 a CPU, at least 2; v2 cpu.weight, converted from
//     shares as a kubelet does).
func cgroupLimits(res corev1.ResourceRequirements, v1 func(controller string) bool) []cgroupFile {
	var out []cgroupFile
	memory := "max"
	if m, ok := res.Limits[corev1.ResourceMemory]; ok && !m.IsZero() {
		memory = strconv.FormatInt(m.Value(), 10)
	}
	if v1("memory") {
		if memory == "max" {
			memory = "-1"
		}
		// The limit first: the memory+swap limit may not be below it.
		out = append(out,
			cgroupFile{"memory", "memory.limit_in_bytes", memory},
			cgroupFile{"memory", "memory.memsw.limit_in_bytes", memory})
	} else {
		swap := "max"
		if memory != "max" {
			swap = "0"
		}
		out = append(out,
			cgroupFile{"memory", "memory.max", memory},
			cgroupFile{"memory", "memory.swap.max", swap},
			cgroupFile{"memory", "memory.oom.group", "1"})
	}

	quota := int64(-1)
	if cpu, ok := res.Limits[corev1.ResourceCPU]; ok && !cpu.IsZero() {
		// At least 1 ms per period: the kernel refuses less.
		quota = max(cpu.MilliValue()*cpuPeriod/1000, 1000)
	}
	shares := int64(2)
	if cpu, ok := res.Requests[corev1.ResourceCPU]; ok && !cpu.IsZero() {
		shares = min(max(cpu.MilliValue()*1024/1000, 2), 262144)
	}
	if v1("cpu") {
		out = append(out,
			cgroupFile{"cpu", "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)},
			cgroupFile{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)},
			cgroupFile{"cpu", "cpu.shares", strconv.FormatInt(shares, 10)})
	} else {
		limit := "max"
		if quota > 0 {
			limit = strconv.FormatInt(quota, 10)
		}
		out = append(out,
			cgroupFile{"cpu", "cpu.max", fmt.Sprintf("%s %d", limit, cpuPeriod)},
			cgroupFile{"cpu", "cpu.weight", strconv.FormatInt(1+(shares-2)*9999/262142, 10)})
	}
	return out
}

// oomKills reads how many processes of a container's cgroup the kernel
// killed for want of memory (oom_kill in v2 memory.events, or in v1
// memory.oom_control); zero without the memory controller.
func oomKills(p string) int {
	dir, v1 := hostCgroups().dirs(p).controller("memory")
	file := "memory.events"
	if v1 {
		file = "memory.oom_control"
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// viewOps mount, at target, the cgroups of a container as its cgroup
// namespace shows them (its own cgroup as the root of each hierarchy),
// read-only and laid out as on the host: the cgroup v2 hierarchy alone;
// or a directory holding the v1 hierarchies of cgroupControllers (with
// links for controllers mounted together: cpu -> cpu,cpuacct) and v2
// beside them, as the host names them.
func (l cgroupLayout) viewOps(target string) []containerinit.MountOp {
	if len(l.v1) == 0 {
		return []containerinit.MountOp{{Kind: containerinit.OpCgroup2, Target: target, ReadOnly: true}}
	}
	ops := []containerinit.MountOp{{Kind: containerinit.OpTmpfs, Target: target, Data: "mode=755,size=16k"}}
	for _, h := range l.v1 {
		name := filepath.Base(h.mount)
		ops = append(ops, containerinit.MountOp{
			Kind: containerinit.OpCgroup1, Target: target + "/" + name, Data: strings.Join(h.controllers, ","), ReadOnly: true,
		})
		for _, c := range h.controllers {
			if c != name {
				ops = append(ops, containerinit.MountOp{Kind: containerinit.OpSymlink, Source: name, Target: target + "/" + c})
			}
		}
	}
	if l.unified != "" {
		name := filepath.Base(l.unified)
		if l.unified == target || strings.HasPrefix(target, l.unified+"/") {
			name = "unified"
		}
		ops = append(ops, containerinit.MountOp{Kind: containerinit.OpCgroup2, Target: target + "/" + name, ReadOnly: true})
	}
	// The tmpfs last: mount points were made in it.
	return append(ops, containerinit.MountOp{Kind: containerinit.OpReadOnly, Target: target})
}

// endContainerCgroup ends what is left of a container's run and removes
// its cgroup; the next run gets a fresh one. A cgroup is not reused after
// cgroup.kill: some kernels kill every process later cloned into it.
func endContainerCgroup(p string) {
	killCgroup(p)
	for _, dir := range hostCgroups().dirs(p).all() {
		_ = unix.Rmdir(dir)
	}
}

// killCgroup ends every process in the cgroup named p and its children
// and waits (a few seconds at most) until they are gone.
func killCgroup(p string) {
	d := hostCgroups().dirs(p)
	if d.unified == "" || os.WriteFile(filepath.Join(d.unified, "cgroup.kill"), []byte("1"), 0o644) != nil {
		// Before cgroup.kill (Linux 5.14), or on a v1 host: signal each
		// process.
		for _, pid := range cgroupProcs(d) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(d.unified, "cgroup.events")); err == nil {
			if strings.Contains(string(b), "populated 0") {
				return
			}
			continue
		}
		if len(cgroupProcs(d)) == 0 {
			return
		}
	}
}

// cgroupProcs lists the processes in a cgroup and its children, in any
// of its hierarchies.
func cgroupProcs(d cgroupDirs) []int {
	var pids []int
	for _, dir := range d.all() {
		_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(p)
				for f := range strings.FieldsSeq(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
						pids = append(pids, pid)
					}
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroup kills what is left in the cgroup named p and removes it
// with its children from every hierarchy. A cgroup already gone is fine.
func removeCgroup(p string) error {
	d := hostCgroups().dirs(p)
	var errs []error
	for _, dir := range d.all() {
		if _, err := os.Stat(dir); err == nil {
			killCgroup(p)
			break
		}
	}
	for _, dir := range d.all() {
		errs = append(errs, removeCgroupDir(dir))
	}
	return errors.Join(errs...)
}

// removeCgroupDir removes a cgroup directory of one hierarchy, children
// first.
func removeCgroupDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeCgroupDir(filepath.Join(dir, e.Name())))
		}
	}
	// A cgroup is removed with rmdir, whatever its control files.
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
	}
	return errors.Join(errs...)
}
