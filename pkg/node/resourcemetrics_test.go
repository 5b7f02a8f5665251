package node

import (
	"bytes"
	"errors"
	"fmt"
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
	text := resourceMetricsText(t, r)
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
		if !strings.Contains(text, want) {
			t.Errorf("/metrics/resource lacks %q:\n%s", want, text)
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

// TestResourceMetricsFromAFakeCgroupTree lays out a pod of one container
// as each kind of host keeps its cgroups (v2 alone, hybrid as on this
// project's CI machines, v1 alone with cpu and cpuacct together), with
// the files the kernel would write, and checks the figures the node
// serves on /metrics/resource for the pod and its container.
func TestResourceMetricsFromAFakeCgroupTree(t *testing.T) {
	const (
		podCPUUsec       = 3_000_000 // 3 s
		containerCPUUsec = 2_500_000
		podMemory        = 96 << 20
		podInactive      = 16 << 20
		containerMemory  = 64 << 20
		containerInact   = 8 << 20
	)
	// A file's content in the pod's cgroup, or in its container's.
	type files map[string]func(container bool) string
	cpuStat := func(container bool) string {
		usec := podCPUUsec
		if container {
			usec = containerCPUUsec
		}
		return fmt.Sprintf("usage_usec %d\nuser_usec 1\nsystem_usec 2\n", usec)
	}
	cpuacct := func(container bool) string {
		if container {
			return fmt.Sprint(containerCPUUsec * 1000)
		}
		return fmt.Sprint(podCPUUsec * 1000)
	}
	memory := func(container bool) string {
		if container {
			return fmt.Sprint(containerMemory)
		}
		return fmt.Sprint(podMemory)
	}
	inactive := func(container bool) int {
		if container {
			return containerInact
		}
		return podInactive
	}
	memStatV2 := func(container bool) string {
		return fmt.Sprintf("active_file 5\ninactive_file %d\n", inactive(container))
	}
	// A v1 memory.stat has the cgroup's own figures and, prefixed total_,
	// those with its descendants'; only the total_ ones are the cgroup's.
	memStatV1 := func(container bool) string {
		return fmt.Sprintf("inactive_file 1\ntotal_inactive_file %d\n", inactive(container))
	}
	for _, tc := range []struct {
		name      string
		mountinfo string
		// files by hierarchy mount (relative to the tree) and name.
		files map[string]files
	}{{
		name:      "cgroup v2 alone",
		mountinfo: "29 22 0:26 / ROOT/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
		files: map[string]files{"unified": {
			"cpu.stat": cpuStat, "memory.current": memory, "memory.stat": memStatV2,
		}},
	}, {
		name: "hybrid: CPU time from v2, memory from v1",
		mountinfo: strings.Join([]string{
			"31 30 0:28 / ROOT/cpu rw,relatime - cgroup cgroup rw,cpu",
			"34 30 0:31 / ROOT/memory rw,relatime - cgroup cgroup rw,memory",
			"38 30 0:35 / ROOT/pids rw,relatime - cgroup cgroup rw,pids",
			"40 30 0:37 / ROOT/unified rw,relatime - cgroup2 cgroup2 rw",
		}, "\n"),
		files: map[string]files{
			"unified": {"cpu.stat": cpuStat},
			"memory":  {"memory.usage_in_bytes": memory, "memory.stat": memStatV1},
		},
	}, {
		name: "v1 alone, cpu and cpuacct together",
		mountinfo: strings.Join([]string{
			"25 24 0:22 / ROOT/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
			"26 24 0:23 / ROOT/memory rw - cgroup cgroup rw,memory",
		}, "\n"),
		files: map[string]files{
			"cpu,cpuacct": {"cpuacct.usage": cpuacct},
			"memory":      {"memory.usage_in_bytes": memory, "memory.stat": memStatV1},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tree := t.TempDir()
			layout := parseCgroupLayout(strings.ReplaceAll(tc.mountinfo, "ROOT", tree), procCgroups)
			const podRel = "/flywheel-n1/pod-uid-1"
			for mount, fs := range tc.files {
				for name, content := range fs {
					for _, container := range []bool{false, true} {
						dir := filepath.Join(tree, mount, podRel)
						if container {
							dir = filepath.Join(dir, "app")
						}
						if err := os.MkdirAll(dir, 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(filepath.Join(dir, name), []byte(content(container)+"\n"), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			podDir := layout.root() + podRel
			now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "uid-1"}}
			r := &usageReporter{
				nodeName: "n1",
				now:      func() time.Time { return now },
				machine:  func(at time.Time) (cgroupUsage, error) { return cgroupUsage{at: at}, nil },
				pods: func(at time.Time) []podUsage {
					return []podUsage{{pod: pod, total: layout.usage(podDir, at), containers: []containerUsage{
						{name: "app", started: now.Add(-time.Hour), usage: layout.usage(filepath.Join(podDir, "app"), at)},
					}}}
				},
			}
			text := resourceMetricsText(t, r)
			ms := " " + strconv.FormatInt(now.UnixMilli(), 10)
			float := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
			for _, want := range []string{
				`pod_cpu_usage_seconds_total{namespace="default",pod="web"} 3` + ms,
				`pod_memory_working_set_bytes{namespace="default",pod="web"} ` + float(podMemory-podInactive) + ms,
				`container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2.5` + ms,
				`container_memory_working_set_bytes{container="app",namespace="default",pod="web"} ` + float(containerMemory-containerInact) + ms,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("/metrics/resource lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

// resourceMetricsText is r's /metrics/resource in the text format,
// encoded as virtual-kubelet's handler encodes it.
func resourceMetricsText(t *testing.T, r *usageReporter) string {
	t.Helper()
	families, err := r.metricsResource(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatalf("encoding %s: %v", f.GetName(), err)
		}
	}
	return text.String()
}

// TestResourceMetricsOfANodeWithoutPods: a node that runs no pod, and
// could not read its own figures, still answers the scrape.
func TestResourceMetricsOfANodeWithoutPods(t *testing.T) {
	r := &usageReporter{
		nodeName: "n1",
		now:      time.Now,
		machine:  func(at time.Time) (cgroupUsage, error) { return cgroupUsage{at: at}, errors.New("no /proc") },
		pods:     func(time.Time) []podUsage { return nil },
	}
	if text := resourceMetricsText(t, r); !strings.Contains(text, "resource_scrape_error 1") {
		t.Errorf("/metrics/resource of a node that could not read its usage:\n%s", text)
	}
}

// BenchmarkServingResourceMetrics is what a scrape of the node costs with
// 100 pods of two containers each in real cgroups (idle ones: the kernel
// serves their files the same way): /metrics/resource encoded as
// virtual-kubelet's handler does, which metrics-server reads every 15 s,
// and /stats/summary. core-ms/min is the CPU it takes a minute at that
// scrape interval.
func BenchmarkServingResourceMetrics(b *testing.B) {
	parent := testPodCgroup(b)
	const podCount = 100
	type pod struct {
		pod        *corev1.Pod
		dir        string
		containers []string
	}
	var all []pod
	for i := range podCount {
		pc := &podCgroup{dir: filepath.Join(parent.dir, fmt.Sprintf("pod-%d", i)), record: func(string) error { return nil }}
		if err := pc.setUp(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		p := pod{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("web-%d", i)}}, dir: pc.dir}
		for _, name := range []string{"user-container", "queue-proxy"} {
			if _, err := pc.container(name, corev1.ResourceRequirements{}); err != nil {
				b.Fatal(err)
			}
			p.containers = append(p.containers, name)
		}
		all = append(all, p)
	}
	started := time.Now()
	r := &usageReporter{
		nodeName: "n1",
		now:      time.Now,
		machine:  machineUsage,
		// As provider.usage reads them.
		pods: func(at time.Time) []podUsage {
			out := make([]podUsage, 0, len(all))
			for _, p := range all {
				pu := podUsage{pod: p.pod, total: readCgroupUsage(p.dir, at)}
				for _, c := range p.containers {
					pu.containers = append(pu.containers, containerUsage{name: c, started: started, usage: readCgroupUsage(filepath.Join(p.dir, c), at)})
				}
				out = append(out, pu)
			}
			return out
		},
	}
	perMinute := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)*4, "core-ms/min")
	}
	b.Run("metrics-resource", func(b *testing.B) {
		b.ReportAllocs()
		var text bytes.Buffer
		for b.Loop() {
			families, err := r.metricsResource(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			text.Reset()
			enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, f := range families {
				if err := enc.Encode(f); err != nil {
					b.Fatal(err)
				}
			}
		}
		perMinute(b)
		b.ReportMetric(float64(text.Len()), "bytes/scrape")
	})
	b.Run("stats-summary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.statsSummary(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		perMinute(b)
	})
}
