package node

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// cgroupUsage is what a cgroup has used, as a kubelet reads it for its
// resource metrics: the CPU time of every process that ran in it, and its
// memory working set, the memory it uses less the file cache the kernel
// can drop at once (inactive_file), which is what the kernel weighs
// against the limit and what the HPA and the VPA see.
type cgroupUsage struct {
	// at is when it was read.
	at time.Time
	// cpu is the cumulative CPU time; hasCPU says it was read.
	cpu    time.Duration
	hasCPU bool
	// workingSet and usage are bytes; hasMemory says they were read.
	workingSet, usage uint64
	hasMemory         bool
}

// readCgroupUsage reads the usage of the cgroup named p on this host.
func readCgroupUsage(p string, now time.Time) cgroupUsage {
	return hostCgroups().usage(p, now)
}

// usage reads the usage of the cgroup named p under layout l. CPU time
// comes from cgroup v2's cpu.stat, which the kernel keeps for every
// cgroup with or without the cpu controller (so on a hybrid host too,
// where the node places every process in the v2 hierarchy as well), else
// from a v1 cpuacct hierarchy; memory from wherever the memory controller
// is.
func (l cgroupLayout) usage(p string, now time.Time) cgroupUsage {
	u := cgroupUsage{at: now}
	d := l.dirs(p)
	if usec, ok := statField(filepath.Join(d.unified, "cpu.stat"), "usage_usec"); ok && d.unified != "" {
		u.cpu, u.hasCPU = time.Duration(usec)*time.Microsecond, true
	} else if dir, v1 := d.controller("cpuacct"); v1 {
		if ns, ok := readUint(filepath.Join(dir, "cpuacct.usage")); ok {
			u.cpu, u.hasCPU = time.Duration(ns), true
		}
	}
	dir, v1 := d.controller("memory")
	usageFile, inactiveField := "memory.current", "inactive_file"
	if v1 {
		// total_ counts the cgroup's descendants too, as memory.current
		// and a v2 memory.stat do.
		usageFile, inactiveField = "memory.usage_in_bytes", "total_inactive_file"
	}
	if dir == "" {
		return u
	}
	usage, ok := readUint(filepath.Join(dir, usageFile))
	if !ok {
		return u
	}
	inactive, _ := statField(filepath.Join(dir, "memory.stat"), inactiveField)
	u.usage, u.hasMemory = usage, true
	u.workingSet = usage - min(inactive, usage)
	return u
}

// readUint reads a file holding one unsigned number.
func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// statField reads the value of key in a flat keyed file ("key value"
// lines: cpu.stat, memory.stat, /proc/meminfo without its units).
func statField(path, key string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if !ok || strings.TrimSuffix(k, ":") != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// machineUsage is the whole machine's usage, which a kubelet reports as
// its node's (the root cgroup): CPU time from /proc/stat (every state but
// idle and iowait), the working set as MemTotal less MemAvailable.
func machineUsage(now time.Time) (cgroupUsage, error) {
	u := cgroupUsage{at: now}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return u, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return u, errors.New("/proc/stat: no cpu line")
	}
	var busy uint64
	for i, f := range fields[1:] {
		// user nice system idle iowait irq softirq steal (guest time is
		// already counted in user).
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return u, err
		}
		busy += v
	}
	// /proc/stat counts in USER_HZ, 100 a second on every Linux ABI.
	u.cpu, u.hasCPU = time.Duration(busy)*10*time.Millisecond, true
	total, okTotal := statField("/proc/meminfo", "MemTotal")
	available, okAvailable := statField("/proc/meminfo", "MemAvailable")
	if okTotal && okAvailable {
		u.usage = (total - min(available, total)) * 1024
		u.workingSet, u.hasMemory = u.usage, true
	}
	return u, nil
}

// podUsage is one pod's usage and its running containers'.
type podUsage struct {
	pod        *corev1.Pod
	total      cgroupUsage
	containers []containerUsage
}

// containerUsage is a running container's usage since it started.
type containerUsage struct {
	name    string
	started time.Time
	usage   cgroupUsage
}

// usage reads the usage of every pod the node runs in a cgroup of its
// own, and of each of its running containers: the pod's cgroup holds its
// containers' as children, so its figures are their sum.
func (p *provider) usage(now time.Time) []podUsage {
	p.mu.Lock()
	entries := make([]*podEntry, 0, len(p.pods))
	for _, e := range p.pods {
		if e.cgroup != nil && !e.stopping {
			entries = append(entries, e)
		}
	}
	p.mu.Unlock()
	out := make([]podUsage, 0, len(entries))
	for _, e := range entries {
		pod := e.rt.snapshot()
		pu := podUsage{pod: pod, total: readCgroupUsage(e.cgroup.dir, now)}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Running == nil {
				continue
			}
			pu.containers = append(pu.containers, containerUsage{
				name:    cs.Name,
				started: cs.State.Running.StartedAt.Time,
				usage:   readCgroupUsage(filepath.Join(e.cgroup.dir, cs.Name), now),
			})
		}
		out = append(out, pu)
	}
	return out
}
