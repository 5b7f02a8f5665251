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
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/pkg/node/containerinit"
)

// cpuPeriod is the cpu.max period, the kernel's default (100 ms).
const cpuPeriod = 100000

// findCgroup2 returns where the cgroup v2 hierarchy is mounted (alone at
// /sys/fs/cgroup, or beside v1 controllers at /sys/fs/cgroup/unified),
// empty when it is not.
func findCgroup2() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Fields after " - " are the filesystem type, source and options.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if fields := strings.Fields(post); len(fields) > 0 && fields[0] == "cgroup2" {
			if pf := strings.Fields(pre); len(pf) >= 5 {
				return containerinit.UnescapeMountinfo(pf[4])
			}
		}
	}
	return ""
}

// enableControllers turns on, in dir's children, the controllers among
// memory, cpu and pids that dir has. Limits need them; placing and
// killing processes does not, so a failure only loses the limits.
func enableControllers(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return
	}
	have := strings.Fields(string(b))
	for _, c := range []string{"memory", "cpu", "pids"} {
		if slices.Contains(have, c) {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0o644)
		}
	}
}

// newNodeCgroup makes the node's cgroup, the parent of its pods', at the
// top of the cgroup v2 hierarchy (a cgroup holding processes, like the
// node's own, cannot pass controllers on). record notes it in the node
// state first. It returns "" when cgroup v2 is missing or not writable:
// pods then run without cgroups.
func newNodeCgroup(name string, record func(string) error) (string, error) {
	mount := findCgroup2()
	if mount == "" || unix.Access(mount, unix.W_OK) != nil {
		return "", nil
	}
	dir := filepath.Join(mount, "flywheel-"+name)
	if err := record(dir); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", nil
	}
	enableControllers(mount)
	enableControllers(dir)
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
	if err := os.Mkdir(c.dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("making the pod's cgroup %s: %w", c.dir, err)
	}
	enableControllers(c.dir)
	return nil
}

func (c *podCgroup) tearDown(*sandbox) error { return removeCgroup(c.dir) }

// container makes (or keeps) the cgroup of the named container and sets
// its limits, as far as the controllers allow. It returns the cgroup's
// directory.
func (c *podCgroup) container(name string, res corev1.ResourceRequirements) (string, error) {
	dir := filepath.Join(c.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("making the container's cgroup %s: %w", dir, err)
	}
	for file, value := range cgroupLimits(res) {
		// Missing controllers (a v1 host's unified hierarchy) leave the
		// container unlimited, as the node's machine capacity would.
		_ = os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644)
	}
	return dir, nil
}

// cgroupLimits are the cgroup v2 files setting a container's limits:
// memory.max in bytes, cpu.max as quota and period; "max" when unset.
func cgroupLimits(res corev1.ResourceRequirements) map[string]string {
	out := map[string]string{"memory.max": "max", "cpu.max": fmt.Sprintf("max %d", cpuPeriod)}
	if m, ok := res.Limits[corev1.ResourceMemory]; ok && !m.IsZero() {
		out["memory.max"] = strconv.FormatInt(m.Value(), 10)
	}
	if cpu, ok := res.Limits[corev1.ResourceCPU]; ok && !cpu.IsZero() {
		// At least 1 ms per period: the kernel refuses less.
		quota := max(cpu.MilliValue()*cpuPeriod/1000, 1000)
		out["cpu.max"] = fmt.Sprintf("%d %d", quota, cpuPeriod)
	}
	return out
}

// oomKills reads how many processes of a container's cgroup the kernel
// killed for want of memory; zero without the memory controller.
func oomKills(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "memory.events"))
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

// endContainerCgroup ends what is left of a container's run and removes
// its cgroup; the next run gets a fresh one. A cgroup is not reused after
// cgroup.kill: some kernels kill every process later cloned into it.
func endContainerCgroup(dir string) {
	killCgroup(dir)
	_ = unix.Rmdir(dir)
}

// killCgroup ends every process in dir and its children and waits (a few
// seconds at most) until they are gone.
func killCgroup(dir string) {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644); err != nil {
		// Before cgroup.kill (Linux 5.14): signal each process.
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(p)
				for f := range strings.FieldsSeq(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						_ = unix.Kill(pid, unix.SIGKILL)
					}
				}
			}
			return nil
		})
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil || strings.Contains(string(b), "populated 0") {
			return
		}
	}
}

// removeCgroup kills what is left in dir and removes it with its
// children. A cgroup already gone is fine.
func removeCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	killCgroup(dir)
	entries, _ := os.ReadDir(dir)
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeCgroup(filepath.Join(dir, e.Name())))
		}
	}
	// A cgroup is removed with rmdir, whatever its control files.
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
	}
	return errors.Join(errs...)
}
