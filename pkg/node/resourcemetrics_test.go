package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestContainerUsageIsReadFromItsCgroup runs a real process that keeps a
// CPU busy and holds 32 MiB in a container's cgroup, and checks that the
// node reads its CPU time growing and a working set of at least that.
func TestContainerUsageIsReadFromItsCgroup(t *testing.T) {
	cg := testPodCgroup(t)
	dir, err := cg.container("app", corev1.ResourceRequirements{})
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	// The shell holds the 32 MiB string in its memory while it spins.
	p, err := execRunner{}.start(processSpec{
		path: "/bin/sh", args: []string{"sh", "-c", `x=$(head -c 33554432 /dev/zero | tr '\0' a); echo held; while :; do :; done`},
		env: []string{"PATH=/usr/bin:/bin"}, cgroup: dir, stdout: out, stderr: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.signal(syscall.SIGKILL); <-p.done() })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "held") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	first := readCgroupUsage(dir, time.Now())
	time.Sleep(300 * time.Millisecond)
	second := readCgroupUsage(dir, time.Now())
	if !first.hasCPU || !second.hasCPU || second.cpu <= first.cpu {
		t.Errorf("CPU time of a busy container: %v then %v, want it read and growing", first.cpu, second.cpu)
	}
	if !second.hasMemory || second.workingSet < 32<<20 || second.usage < second.workingSet {
		t.Errorf("memory of a container holding 32 MiB: working set %d, usage %d (read: %v)", second.workingSet, second.usage, second.hasMemory)
	}
	// The pod's cgroup holds the container's: its figures include them.
	pod := readCgroupUsage(cg.dir, time.Now())
	if pod.cpu < second.cpu || pod.workingSet < 32<<20 {
		t.Errorf("the pod's usage (CPU %v, working set %d) is below its container's", pod.cpu, pod.workingSet)
	}
}

func TestCgroupUsageFilesOfV2(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
	write("memory.current", "10485760\n")
	write("memory.stat", "anon 6291456\nfile 4194304\nactive_file 1048576\ninactive_file 3145728\n")
	u := readCgroupUsage(dir, time.Now())
	if !u.hasCPU || u.cpu != 1500*time.Millisecond {
		t.Errorf("cpu = %v (read %v), want 1.5s", u.cpu, u.hasCPU)
	}
	if !u.hasMemory || u.usage != 10485760 || u.workingSet != 10485760-3145728 {
		t.Errorf("memory usage %d, working set %d (read %v), want 10485760 and less inactive_file", u.usage, u.workingSet, u.hasMemory)
	}
	if u := readCgroupUsage(filepath.Join(dir, "gone"), time.Now()); u.hasCPU || u.hasMemory {
		t.Errorf("a cgroup that is not there read as %+v", u)
	}
}

func TestMachineUsage(t *testing.T) {
	u, err := machineUsage(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !u.hasCPU || u.cpu <= 0 || !u.hasMemory || u.workingSet == 0 {
		t.Errorf("machine usage %+v, want CPU time and a working set", u)
	}
}

func testReporter(now *time.Time, cpu *time.Duration) *usageReporter {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "uid-1"}}
	started := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	return &usageReporter{
		nodeName: "n1",
		now:      func() time.Time { return *now },
		machine: func(at time.Time) (cgroupUsage, error) {
			return cgroupUsage{at: at, cpu: 10 * *cpu, hasCPU: true, workingSet: 1 << 30, usage: 1 << 30, hasMemory: true}, nil
		},
		pods: func(at time.Time) []podUsage {
			u := cgroupUsage{at: at, cpu: *cpu, hasCPU: true, workingSet: 64 << 20, usage: 80 << 20, hasMemory: true}
			return []podUsage{{pod: pod, total: u, containers: []containerUsage{{name: "app", started: started, usage: u}}}}
		},
	}
}

func TestResourceMetricsAreTheKubeletsWithTimestamps(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cpu := 2500 * time.Millisecond
	r := testReporter(&now, &cpu)
	families, err := r.metricsResource(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	started := strconv.FormatFloat(float64(time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC).Unix()), 'g', -1, 64)
	for _, want := range []string{
		"node_cpu_usage_seconds_total 25 " + ms,
		"node_memory_working_set_bytes 1.073741824e+09 " + ms,
		`pod_cpu_usage_seconds_total{namespace="default",pod="web"} 2.5 ` + ms,
		`pod_memory_working_set_bytes{namespace="default",pod="web"} 6.7108864e+07 ` + ms,
		`container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2.5 ` + ms,
		`container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 6.7108864e+07 ` + ms,
		`container_start_time_seconds{container="app",namespace="default",pod="web"} ` + started + " " + ms,
		"resource_scrape_error 0\n",
		"# TYPE container_cpu_usage_seconds_total counter",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("/metrics/resource lacks %q:\n%s", want, text.String())
		}
	}
}

func TestStatsSummaryGivesRatesFromTheSecondReading(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cpu := 2 * time.Second
	r := testReporter(&now, &cpu)
	s, err := r.statsSummary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node.NodeName != "n1" || len(s.Pods) != 1 || len(s.Pods[0].Containers) != 1 {
		t.Fatalf("summary %+v, want node n1 with one pod of one container", s)
	}
	if s.Pods[0].CPU.UsageNanoCores != nil {
		t.Errorf("a rate from a single reading: %d", *s.Pods[0].CPU.UsageNanoCores)
	}
	if got := *s.Pods[0].Containers[0].Memory.WorkingSetBytes; got != 64<<20 {
		t.Errorf("container working set %d, want %d", got, 64<<20)
	}

	// Half a core over the next two seconds.
	now = now.Add(2 * time.Second)
	cpu += time.Second
	s, err = r.statsSummary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := s.Pods[0].Containers[0].CPU
	if c.UsageNanoCores == nil || *c.UsageNanoCores != 500_000_000 || *c.UsageCoreNanoSeconds != uint64(3*time.Second) {
		t.Errorf("container CPU %+v, want 0.5 cores and 3 s used", c)
	}
	if n := s.Node.CPU.UsageNanoCores; n == nil || *n != 5_000_000_000 {
		t.Errorf("node CPU rate %v, want 5 cores", n)
	}
}
