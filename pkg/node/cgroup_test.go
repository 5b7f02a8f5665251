package node

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"flywheel.dev/pkg/node/containerinit"
)

func TestCgroupLimits(t *testing.T) {
	v1 := func(string) bool { return true }
	v2 := func(string) bool { return false }
	for _, tc := range []struct {
		name string
		res  corev1.ResourceRequirements
		v1   func(string) bool
		want []string
	}{{
		name: "v2, no limits",
		v1:   v2,
		want: []string{"memory.max=max", "memory.swap.max=max", "memory.oom.group=1", "cpu.max=max 100000", "cpu.weight=1"},
	}, {
		name: "v2, memory and half a CPU, a quarter requested",
		res: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		},
		v1:   v2,
		want: []string{"memory.max=67108864", "memory.swap.max=0", "memory.oom.group=1", "cpu.max=50000 100000", "cpu.weight=10"},
	}, {
		name: "v2, a tiny CPU limit gets the kernel's minimum quota",
		res:  corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")}},
		v1:   v2,
		want: []string{"memory.max=max", "memory.swap.max=max", "memory.oom.group=1", "cpu.max=1000 100000", "cpu.weight=1"},
	}, {
		name: "v1, no limits",
		v1:   v1,
		want: []string{
			"memory:memory.limit_in_bytes=-1", "memory:memory.memsw.limit_in_bytes=-1",
			"cpu:cpu.cfs_period_us=100000", "cpu:cpu.cfs_quota_us=-1", "cpu:cpu.shares=2",
		},
	}, {
		name: "v1, 350Mi and two CPUs, one requested",
		res: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("350Mi"), corev1.ResourceCPU: resource.MustParse("2")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		},
		v1: v1,
		want: []string{
			"memory:memory.limit_in_bytes=367001600", "memory:memory.memsw.limit_in_bytes=367001600",
			"cpu:cpu.cfs_period_us=100000", "cpu:cpu.cfs_quota_us=200000", "cpu:cpu.shares=1024",
		},
	}, {
		name: "memory in v1, cpu in v2",
		res:  corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
		v1:   func(c string) bool { return c == "memory" },
		want: []string{
			"memory:memory.limit_in_bytes=1073741824", "memory:memory.memsw.limit_in_bytes=1073741824",
			"cpu.max=max 100000", "cpu.weight=1",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			// A v1 file is shown with its controller's hierarchy.
			var got []string
			for _, f := range cgroupLimits(tc.res, tc.v1) {
				if tc.v1(f.controller) {
					got = append(got, f.controller+":"+f.name+"="+f.value)
				} else {
					got = append(got, f.name+"="+f.value)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("cgroupLimits() (-want, +got):\n%s", diff)
			}
		})
	}
}

// A hybrid host (this project's CI machines): every controller in a v1
// hierarchy of its own, cgroup v2 at unified without controllers.
const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const procCgroups = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	3	1	1
cpu	1	1	1
cpuacct	2	1	1
memory	4	49	1
devices	5	1	1
pids	8	1	1
`

func TestParseCgroupLayout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mountinfo string
		want      cgroupLayout
		// dirs of the cgroup named by its path under the root.
		rel  string
		dirs []string
	}{{
		name:      "cgroup v2 alone",
		mountinfo: "29 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
		want:      cgroupLayout{unified: "/sys/fs/cgroup"},
		rel:       "/flywheel-n/pod-a",
		dirs:      []string{"/sys/fs/cgroup/flywheel-n/pod-a"},
	}, {
		name:      "hybrid",
		mountinfo: hybridMountinfo,
		want: cgroupLayout{unified: "/sys/fs/cgroup/unified", v1: []cgroupHierarchy{
			{mount: "/sys/fs/cgroup/memory", controllers: []string{"memory"}},
			{mount: "/sys/fs/cgroup/cpu", controllers: []string{"cpu"}},
			{mount: "/sys/fs/cgroup/pids", controllers: []string{"pids"}},
		}},
		rel: "/flywheel-n",
		dirs: []string{
			"/sys/fs/cgroup/unified/flywheel-n", "/sys/fs/cgroup/memory/flywheel-n",
			"/sys/fs/cgroup/cpu/flywheel-n", "/sys/fs/cgroup/pids/flywheel-n",
		},
	}, {
		name: "v1 alone, cpu and cpuacct together, a hierarchy bound twice",
		mountinfo: `25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
27 24 0:23 / /var/lib/other/memory rw - cgroup cgroup rw,memory
`,
		want: cgroupLayout{v1: []cgroupHierarchy{
			{mount: "/sys/fs/cgroup/memory", controllers: []string{"memory"}},
			{mount: "/sys/fs/cgroup/cpu,cpuacct", controllers: []string{"cpu", "cpuacct"}},
		}},
		rel:  "/flywheel-n/pod-a/c0",
		dirs: []string{"/sys/fs/cgroup/memory/flywheel-n/pod-a/c0", "/sys/fs/cgroup/cpu,cpuacct/flywheel-n/pod-a/c0"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseCgroupLayout(tc.mountinfo, procCgroups)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(cgroupLayout{}, cgroupHierarchy{})); diff != "" {
				t.Fatalf("layout (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.dirs, got.dirs(got.root()+tc.rel).all()); diff != "" {
				t.Errorf("dirs (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestCgroupViewOps(t *testing.T) {
	op := func(kind containerinit.OpKind, target, data string) string {
		return strings.TrimSpace(fmt.Sprintf("%s %s %s", kind, target, data))
	}
	for _, tc := range []struct {
		name   string
		layout cgroupLayout
		want   []string
	}{{
		name:   "cgroup v2: the container's cgroup as the root",
		layout: cgroupLayout{unified: "/sys/fs/cgroup"},
		want:   []string{op(containerinit.OpCgroup2, "/sys/fs/cgroup", "") + " ro"},
	}, {
		name:   "hybrid: the host's names, each hierarchy rooted at the container's cgroup",
		layout: parseCgroupLayout(hybridMountinfo, procCgroups),
		want: []string{
			op(containerinit.OpTmpfs, "/sys/fs/cgroup", "mode=755,size=16k"),
			op(containerinit.OpCgroup1, "/sys/fs/cgroup/memory", "memory") + " ro",
			op(containerinit.OpCgroup1, "/sys/fs/cgroup/cpu", "cpu") + " ro",
			op(containerinit.OpCgroup1, "/sys/fs/cgroup/pids", "pids") + " ro",
			op(containerinit.OpCgroup2, "/sys/fs/cgroup/unified", "") + " ro",
			op(containerinit.OpReadOnly, "/sys/fs/cgroup", ""),
		},
	}, {
		name: "controllers mounted together get links",
		layout: cgroupLayout{v1: []cgroupHierarchy{
			{mount: "/sys/fs/cgroup/cpu,cpuacct", controllers: []string{"cpu", "cpuacct"}},
		}},
		want: []string{
			op(containerinit.OpTmpfs, "/sys/fs/cgroup", "mode=755,size=16k"),
			op(containerinit.OpCgroup1, "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct") + " ro",
			op(containerinit.OpSymlink, "/sys/fs/cgroup/cpu", "-> cpu,cpuacct"),
			op(containerinit.OpSymlink, "/sys/fs/cgroup/cpuacct", "-> cpu,cpuacct"),
			op(containerinit.OpReadOnly, "/sys/fs/cgroup", ""),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range tc.layout.viewOps("/sys/fs/cgroup") {
				s := op(o.Kind, o.Target, o.Data)
				if o.Kind == containerinit.OpSymlink {
					s = op(o.Kind, o.Target, "-> "+o.Source)
				}
				if o.ReadOnly {
					s += " ro"
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("viewOps() (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestCgroupKill starts a process and a daemon it leaves behind in a
// container's cgroup, a second run after the first, and checks that
// removing the pod's cgroup ends them.
// It needs root and a writable cgroup v2 hierarchy.
func TestCgroupKill(t *testing.T) {
	mount := hostCgroups().unified
	if os.Geteuid() != 0 || mount == "" {
		t.Skip("needs root and cgroup v2")
	}
	pod := &podCgroup{dir: filepath.Join(mount, fmt.Sprintf("flywheel-unit-%d", os.Getpid())), record: func(string) error { return nil }}
	if err := pod.setUp(t.Context(), nil); err != nil {
		t.Skipf("cgroup v2 is not writable here: %v", err)
	}
	t.Cleanup(func() { _ = removeCgroup(pod.dir) })
	dir, err := pod.container("app", corev1.ResourceRequirements{})
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	p, err := execRunner{}.start(processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", "setsid sleep 60 & cat /proc/self/cgroup; sleep 60"},
		env: []string{"PATH=/usr/bin:/bin"}, cgroup: dir, stdout: out, stderr: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "0::") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if want := "0::" + strings.TrimPrefix(dir, mount) + "\n"; !strings.Contains(out.String(), want) {
		t.Errorf("the process's cgroups:\n%s\nwant %q", out.String(), want)
	}
	// A container's next run gets a cgroup of its own again: on some
	// kernels a process cloned into a cgroup that was killed dies at once.
	_ = p.signal(syscall.SIGKILL)
	<-p.done()
	endContainerCgroup(dir)
	if dir, err = pod.container("app", corev1.ResourceRequirements{}); err != nil {
		t.Fatal(err)
	}
	p, err = execRunner{}.start(processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", "setsid sleep 60 & sleep 60"},
		env: []string{"PATH=/usr/bin:/bin"}, cgroup: dir, stdout: out, stderr: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done():
		t.Fatalf("the container's next run ended at once with exit code %d", p.exitCode())
	case <-time.After(300 * time.Millisecond):
	}

	// rmdir succeeds only once no process is left, the daemon included.
	if err := removeCgroup(pod.dir); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done():
	case <-time.After(5 * time.Second):
		t.Fatal("the process outlived its cgroup")
	}
	if _, err := os.Stat(pod.dir); !os.IsNotExist(err) {
		t.Errorf("the pod's cgroup is still there (%v)", err)
	}
}

// lockedBuffer collects a process's output, which os/exec copies from a
// goroutine of its own.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestOOMKills(t *testing.T) {
	dir := t.TempDir()
	if got := oomKills(dir); got != 0 {
		t.Errorf("oomKills() without memory.events = %d, want 0", got)
	}
	events := "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n"
	if err := os.WriteFile(filepath.Join(dir, "memory.events"), []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := oomKills(dir); got != 2 {
		t.Errorf("oomKills() = %d, want 2", got)
	}
}

// TestPodOOMKilled checks that a container started in a cgroup whose
// oom_kill count rose while it ran, and that ended with SIGKILL, ends
// OOMKilled. The cgroup is a plain directory standing in for one.
func TestPodOOMKilled(t *testing.T) {
	f := newPodFixture(t, testPodSpec(corev1.RestartPolicyNever, "/bin/app"))
	podDir := filepath.Join(t.TempDir(), "pod")
	if err := os.Mkdir(podDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.rt.cgroup = &podCgroup{dir: podDir}
	f.rt.start()
	f.waitStarted(1)
	proc := f.runner.proc(0)
	if want := filepath.Join(podDir, "c0"); proc.spec.cgroup != want {
		t.Fatalf("the container started in cgroup %q, want %q", proc.spec.cgroup, want)
	}
	if err := os.WriteFile(filepath.Join(proc.spec.cgroup, "memory.events"), []byte("oom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proc.exit(128 + int(syscall.SIGKILL))
	pod := f.waitFor("terminated", func(p *corev1.Pod) bool { return containerStatus(p, 0).State.Terminated != nil })
	if term := containerStatus(pod, 0).State.Terminated; term.Reason != reasonOOMKilled || term.ExitCode != 137 {
		t.Errorf("terminated %+v, want OOMKilled with exit code 137", term)
	}
}

// testPodCgroup makes a node's cgroup and a pod's under it as the node
// does, removed (with whatever runs in them) when the test ends. It skips
// without root or a writable cgroup hierarchy.
func testPodCgroup(t testing.TB) *podCgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for cgroups")
	}
	name := fmt.Sprintf("unit-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	node, err := newNodeCgroup(name, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if node == "" {
		t.Skip("no writable cgroup hierarchy")
	}
	t.Cleanup(func() {
		if err := removeCgroup(node); err != nil {
			t.Errorf("removing the test's cgroups: %v", err)
		}
	})
	pod := &podCgroup{dir: filepath.Join(node, "pod-a"), record: func(string) error { return nil }}
	if err := pod.setUp(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	return pod
}

// TestContainerOOMKilled runs a real process that allocates 64 MiB in a
// container limited to 32Mi: the kernel kills it, and the container ends
// OOMKilled with exit code 137, then restarts by policy. It needs root
// and a cgroup hierarchy holding the memory controller (v2, or v1 as on a
// hybrid host).
func TestContainerOOMKilled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		// done is the state the test waits for, and what it returns.
		done func(*corev1.Pod) *corev1.ContainerStateTerminated
	}{{
		name:   "restartPolicy Never: terminated",
		policy: corev1.RestartPolicyNever,
		done:   func(p *corev1.Pod) *corev1.ContainerStateTerminated { return containerStatus(p, 0).State.Terminated },
	}, {
		name:   "restartPolicy Always: restarted, the last state OOMKilled",
		policy: corev1.RestartPolicyAlways,
		done: func(p *corev1.Pod) *corev1.ContainerStateTerminated {
			if s := containerStatus(p, 0); s.RestartCount > 0 {
				return s.LastTerminationState.Terminated
			}
			return nil
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cg := testPodCgroup(t)
			pod := testPodSpec(tc.policy, "/bin/sh")
			pod.Spec.Containers[0].Command = []string{"/bin/sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=1"}
			pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
			f := newPodFixture(t, pod)
			f.rt.deps.runner = execRunner{}
			f.rt.cgroup = cg
			f.rt.start()
			got := tc.done(f.waitFor("the container's end", func(p *corev1.Pod) bool { return tc.done(p) != nil }))
			if got.Reason != reasonOOMKilled || got.ExitCode != 137 {
				log, _ := os.ReadFile(filepath.Join(f.rt.logDir, "c0", "0.log"))
				t.Errorf("terminated %s with exit code %d, want OOMKilled with 137; output:\n%s", got.Reason, got.ExitCode, log)
			}
		})
	}
}

// TestContainerCPUThrottled runs a busy loop in a container limited to
// 10m of CPU and waits until the kernel has throttled it.
func TestContainerCPUThrottled(t *testing.T) {
	cg := testPodCgroup(t)
	dir, err := cg.container("app", corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cpuDir, _ := hostCgroups().dirs(dir).controller("cpu")
	out := &lockedBuffer{}
	p, err := execRunner{}.start(processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", "while :; do :; done"},
		env: []string{"PATH=/usr/bin:/bin"}, cgroup: dir, stdout: out, stderr: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.signal(syscall.SIGKILL); <-p.done() })
	var stat string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(cpuDir, "cpu.stat"))
		stat = string(b)
		for line := range strings.SplitSeq(stat, "\n") {
			if n, ok := strings.CutPrefix(line, "nr_throttled "); ok && n != "0" {
				return
			}
		}
	}
	t.Errorf("the busy loop was never throttled; %s/cpu.stat:\n%s", cpuDir, stat)
}

// TestContainerSeesItsLimits runs a real container in a cgroup and checks
// that /sys/fs/cgroup shows its own cgroups, with its limits, read-only,
// in the host's layout (v2 files, or v1 hierarchies by controller).
func TestContainerSeesItsLimits(t *testing.T) {
	cg := testPodCgroup(t)
	dir, err := cg.container("app", corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"memory.max": "33554432", "cpu.max": "50000 100000", "cpu.weight": "10"}
	d := hostCgroups().dirs(dir)
	if _, v1 := d.controller("memory"); v1 {
		want = map[string]string{"memory/memory.limit_in_bytes": "33554432"}
	}
	if _, v1 := d.controller("cpu"); v1 {
		delete(want, "cpu.max")
		delete(want, "cpu.weight")
		want["cpu/cpu.cfs_quota_us"] = "50000"
		want["cpu/cpu.cfs_period_us"] = "100000"
		want["cpu/cpu.shares"] = "256"
	}
	var script []string
	for f := range want {
		script = append(script, fmt.Sprintf("echo %s=$(cat /sys/fs/cgroup/%s)", f, f))
	}
	memFile := "memory.max"
	if _, ok := want[memFile]; !ok {
		memFile = "memory/memory.limit_in_bytes"
	}
	script = append(script,
		fmt.Sprintf("echo 1 2>/dev/null > /sys/fs/cgroup/%s && echo written || echo read-only", memFile),
		// Every hierarchy rooted at the container's cgroup.
		"grep -v ':/$' /proc/self/cgroup || echo cgroups rooted")
	fsys := testPodFS(t)
	fsys.cgroupNS = true
	plan, err := rootPlanFor(fsys, &corev1.Container{}, "", "", homeDir{})
	if err != nil {
		t.Fatal(err)
	}
	out, code := run(t, processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", strings.Join(script, "; ")},
		env: []string{"PATH=/usr/bin:/bin"}, root: plan, cgroup: dir,
	})
	got := map[string]string{}
	var rest []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		} else {
			rest = append(rest, line)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" || code != 0 {
		t.Errorf("exit code %d; limits seen in the container (-want, +got):\n%s", code, diff)
	}
	if diff := cmp.Diff([]string{"read-only", "cgroups rooted"}, rest); diff != "" {
		t.Errorf("the container's cgroups (-want, +got):\n%s", diff)
	}
}
