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
)

func TestCgroupLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits corev1.ResourceList
		want   map[string]string
	}{
		{"no limits", nil, map[string]string{"memory.max": "max", "cpu.max": "max 100000"}},
		{"memory and half a CPU", corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("500m"),
		}, map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000"}},
		{"a tiny CPU limit gets the kernel's minimum quota", corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1m"),
		}, map[string]string{"memory.max": "max", "cpu.max": "1000 100000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cgroupLimits(corev1.ResourceRequirements{Limits: tc.limits})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("cgroupLimits() (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestCgroupKill starts a process and a daemon it leaves behind in a
// container's cgroup, a second run after the first, and checks that
// removing the pod's cgroup ends them.
// It needs root and a writable cgroup v2 hierarchy.
func TestCgroupKill(t *testing.T) {
	mount := findCgroup2()
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
