//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"flywheel.dev/pkg/apis/serving"
	"flywheel.dev/pkg/client/clientset/versioned"
)

// TestMetricsAPIAgreesWithTheCgroups runs an app that keeps a CPU busy
// under a CPU limit of 200m, and holds 32 MiB, and compares what
// metrics.k8s.io says of its container (metrics-server's reading of the
// node's /metrics/resource) with what the container's cgroup says over
// the same window, read here straight from the host's cgroup files: both
// within 10%.
func TestMetricsAPIAgreesWithTheCgroups(t *testing.T) {
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	metrics := metricsclient.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(t, "resource-metrics")
	svc := sleeperService(ns, "spinner", map[string]string{serving.MinScaleAnnotation.String(): "1"})
	c := &svc.Spec.Template.Spec.Containers[0]
	c.Env = []corev1.EnvVar{{Name: "SPIN", Value: "1"}, {Name: "HOLD", Value: "32"}}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}
	created, err := client.ServingV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := waitReady(t, client, ns, "spinner", created.Generation)
	pods, err := cluster.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: serving.RevisionLabel.String() + "=" + ready.Status.LatestReadyRevisionName,
	})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the Revision's pods: %v (%d of them), want one", err, len(pods.Items))
	}
	pod := pods.Items[0]
	cg, err := findContainerCgroup(pod.UID, "user-container")
	if err != nil {
		t.Fatal(err)
	}

	// What the metrics pipeline itself costs, for docs/benchmarks.md:
	// its components' CPU over this test, and their working sets.
	components := componentCgroups(t, map[string]string{
		"metrics-server":  "k8s-app=metrics-server",
		"vpa-recommender": "app.kubernetes.io/name=vpa-recommender",
	})
	componentsFrom := time.Now()
	defer func() { logComponentUsage(t, components, time.Since(componentsFrom)) }()

	// The container's CPU time, read every 100 ms from here on, so that
	// its rate can be taken over whatever window metrics-server reports.
	sampler := &cpuSampler{read: cg.cpu}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { defer close(sampled); sampler.run(sampleCtx, 100*time.Millisecond) }()
	defer func() { stopSampling(); <-sampled }()

	// metrics-server makes a rate of two scrapes (15 s apart): wait for a
	// reading whose whole window lies after the sampling began.
	begun := time.Now()
	var reported, fromCgroup float64
	var memReported, memCgroup uint64
	var last string
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		m, err := metrics.MetricsV1beta1().PodMetricses(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		// The timestamp has whole seconds; a window that might begin
		// before the first sample is not used.
		end := m.Timestamp.Time
		start := end.Add(-m.Window.Duration)
		if start.Before(begun.Add(time.Second)) {
			last = fmt.Sprintf("a window %v–%v from before the sampling", start.Format(time.TimeOnly), end.Format(time.TimeOnly))
			return false, nil
		}
		for _, mc := range m.Containers {
			if mc.Name != "user-container" {
				continue
			}
			used, ok := sampler.between(start, end)
			if !ok {
				last = "no samples around the window " + start.String() + "–" + end.String()
				return false, nil
			}
			cpu := mc.Usage[corev1.ResourceCPU]
			reported = cpu.AsApproximateFloat64()
			fromCgroup = used.Seconds() / m.Window.Seconds()
			memory := mc.Usage[corev1.ResourceMemory]
			memReported = uint64(memory.Value())
			memCgroup, err = cg.workingSet()
			return true, err
		}
		last = fmt.Sprintf("no user-container in %+v", m.Containers)
		return false, nil
	})
	if err != nil {
		t.Fatalf("metrics.k8s.io never gave a reading of pod %s to compare (%v); last: %s", pod.Name, err, last)
	}
	t.Logf("CPU: metrics.k8s.io %.1fm, the cgroup over the same window %.1fm; working set: %d and %d bytes",
		reported*1000, fromCgroup*1000, memReported, memCgroup)
	if fromCgroup < 0.1 || fromCgroup > 0.21 {
		t.Errorf("the cgroup says the container used %.1fm of CPU; a spinning container under a 200m limit uses up to 200m", fromCgroup*1000)
	}
	if d := math.Abs(reported-fromCgroup) / fromCgroup; d > 0.10 {
		t.Errorf("metrics.k8s.io says %.1fm of CPU, the cgroup %.1fm over the same window: %.0f%% apart, want within 10%%",
			reported*1000, fromCgroup*1000, d*100)
	}
	// The working set of an app that holds 32 MiB moves little; the two
	// readings are up to 15 s apart.
	if memReported < 32<<20 || math.Abs(float64(memReported)-float64(memCgroup))/float64(memCgroup) > 0.10 {
		t.Errorf("metrics.k8s.io says a working set of %d bytes, the cgroup %d: want at least 32 MiB and within 10%%", memReported, memCgroup)
	}
}

// containerCgroup is a container's cgroup as the host's files show it,
// read without the node's code.
type containerCgroup struct {
	// cpuStat is cgroup v2's cpu.stat, or cpuacct.usage of a v1
	// hierarchy when cpuStat is "".
	cpuStat, cpuacctUsage string
	// memoryDir holds the memory controller's files; memoryV1 says which
	// version's.
	memoryDir string
	memoryV1  bool
}

// findContainerCgroup finds a container's cgroup directories, the node
// placing them at <hierarchy>/flywheel-<node>/pod-<uid>/<container>.
func findContainerCgroup(uid types.UID, container string) (*containerCgroup, error) {
	rel := filepath.Join("flywheel-*", "pod-"+string(uid), container)
	glob := func(hierarchy, file string) string {
		found, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", hierarchy, rel, file))
		if len(found) == 1 {
			return found[0]
		}
		return ""
	}
	var cg containerCgroup
	for _, h := range []string{"unified", ""} {
		if f := glob(h, "cpu.stat"); f != "" && cg.cpuStat == "" {
			cg.cpuStat = f
		}
		if f := glob(h, "memory.current"); f != "" && cg.memoryDir == "" {
			cg.memoryDir = filepath.Dir(f)
		}
	}
	for _, h := range []string{"cpuacct", "cpu,cpuacct"} {
		if f := glob(h, "cpuacct.usage"); f != "" && cg.cpuacctUsage == "" {
			cg.cpuacctUsage = f
		}
	}
	if f := glob("memory", "memory.usage_in_bytes"); f != "" {
		cg.memoryDir, cg.memoryV1 = filepath.Dir(f), true
	}
	if (cg.cpuStat == "" && cg.cpuacctUsage == "") || cg.memoryDir == "" {
		return nil, fmt.Errorf("no cgroup of container %s under /sys/fs/cgroup/…/%s: %+v", container, rel, cg)
	}
	return &cg, nil
}

// cpu is the CPU time the container used so far.
func (cg *containerCgroup) cpu() (time.Duration, error) {
	if cg.cpuStat != "" {
		usec, err := keyedValue(cg.cpuStat, "usage_usec")
		return time.Duration(usec) * time.Microsecond, err
	}
	b, err := os.ReadFile(cg.cpuacctUsage)
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(ns), err
}

// workingSet is the memory the container uses less the file cache the
// kernel can drop at once.
func (cg *containerCgroup) workingSet() (uint64, error) {
	usageFile, inactive := "memory.current", "inactive_file"
	if cg.memoryV1 {
		usageFile, inactive = "memory.usage_in_bytes", "total_inactive_file"
	}
	b, err := os.ReadFile(filepath.Join(cg.memoryDir, usageFile))
	if err != nil {
		return 0, err
	}
	usage, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, err
	}
	dropped, err := keyedValue(filepath.Join(cg.memoryDir, "memory.stat"), inactive)
	return usage - min(dropped, usage), err
}

// keyedValue reads key's value in a file of "key value" lines.
func keyedValue(path, key string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), " "); ok && k == key {
			return strconv.ParseUint(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", path, key)
}

// cpuSampler keeps a series of a cumulative CPU time.
type cpuSampler struct {
	read func() (time.Duration, error)

	mu      sync.Mutex
	samples []cpuSample
}

type cpuSample struct {
	at   time.Time
	used time.Duration
}

func (s *cpuSampler) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if used, err := s.read(); err == nil {
			s.mu.Lock()
			s.samples = append(s.samples, cpuSample{at: time.Now(), used: used})
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// between is the CPU time used from start to end, each end interpolated
// between the samples around it; false when the samples do not cover
// them.
func (s *cpuSampler) between(start, end time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := func(t time.Time) (time.Duration, bool) {
		for i := 1; i < len(s.samples); i++ {
			a, b := s.samples[i-1], s.samples[i]
			if a.at.After(t) || b.at.Before(t) {
				continue
			}
			f := float64(t.Sub(a.at)) / float64(b.at.Sub(a.at))
			return a.used + time.Duration(f*float64(b.used-a.used)), true
		}
		return 0, false
	}
	from, ok1 := at(start)
	to, ok2 := at(end)
	return to - from, ok1 && ok2
}

// componentCgroup is a kube-system component's container and its CPU
// time when first read.
type componentCgroup struct {
	name     string
	cgroup   *containerCgroup
	cpuStart time.Duration
}

// componentCgroups finds the first container of the kube-system pod each
// label selector picks, by component name.
func componentCgroups(t *testing.T, selectors map[string]string) []componentCgroup {
	t.Helper()
	var out []componentCgroup
	for name, selector := range selectors {
		pods, err := cluster.Kube.CoreV1().Pods("kube-system").List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil || len(pods.Items) == 0 {
			t.Logf("no pod of %s (%s): %v", name, selector, err)
			continue
		}
		p := pods.Items[0]
		cg, err := findContainerCgroup(p.UID, p.Spec.Containers[0].Name)
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		cpu, err := cg.cpu()
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		out = append(out, componentCgroup{name: name, cgroup: cg, cpuStart: cpu})
	}
	return out
}

// logComponentUsage logs each component's CPU averaged over elapsed and
// its working set now.
func logComponentUsage(t *testing.T, components []componentCgroup, elapsed time.Duration) {
	for _, c := range components {
		cpu, err := c.cgroup.cpu()
		if err != nil {
			continue
		}
		ws, _ := c.cgroup.workingSet()
		t.Logf("%s: %.1fm CPU averaged over %v, working set %.1f MiB",
			c.name, float64(cpu-c.cpuStart)/float64(elapsed)*1000, elapsed.Round(time.Second), float64(ws)/(1<<20))
	}
}
