package node

import (
	"context"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/ptr"
)

// The kubelet's resource metrics (/metrics/resource), by the names and
// labels metrics-server reads.
const (
	metricNodeCPU           = "node_cpu_usage_seconds_total"
	metricNodeMemory        = "node_memory_working_set_bytes"
	metricPodCPU            = "pod_cpu_usage_seconds_total"
	metricPodMemory         = "pod_memory_working_set_bytes"
	metricContainerCPU      = "container_cpu_usage_seconds_total"
	metricContainerMemory   = "container_memory_working_set_bytes"
	metricContainerStart    = "container_start_time_seconds"
	metricResourceScrapeErr = "resource_scrape_error"
)

// usageReporter serves the node's usage as a kubelet does: the resource
// metrics metrics-server scrapes, and the stats summary. It keeps the
// previous reading of each cgroup, for the CPU rates the summary gives.
type usageReporter struct {
	nodeName string
	now      func() time.Time
	pods     func(time.Time) []podUsage
	machine  func(time.Time) (cgroupUsage, error)

	mu   sync.Mutex
	last map[string]cgroupUsage // by "" (the node), pod UID, or pod UID/container
}

// read takes the usage of the machine and of every pod, now.
func (r *usageReporter) read() (time.Time, cgroupUsage, []podUsage) {
	now := r.now()
	machine, err := r.machine(now)
	if err != nil {
		machine = cgroupUsage{at: now}
	}
	return now, machine, r.pods(now)
}

// metricsResource is the kubelet's /metrics/resource: cumulative CPU
// seconds and working-set bytes of the node, each pod and each running
// container, every sample stamped with when it was read, which
// metrics-server needs to make rates of two scrapes.
func (r *usageReporter) metricsResource(context.Context) ([]*dto.MetricFamily, error) {
	_, machine, pods := r.read()
	counter, gauge := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	family := func(name, help string, t dto.MetricType) *dto.MetricFamily {
		return &dto.MetricFamily{Name: ptr.To(name), Help: ptr.To(help), Type: &t}
	}
	nodeCPU := family(metricNodeCPU, "Cumulative CPU time the node used, in core-seconds", counter)
	nodeMemory := family(metricNodeMemory, "The node's working set, in bytes", gauge)
	podCPU := family(metricPodCPU, "Cumulative CPU time the pod used, in core-seconds", counter)
	podMemory := family(metricPodMemory, "The pod's working set, in bytes", gauge)
	containerCPU := family(metricContainerCPU, "Cumulative CPU time the container used, in core-seconds", counter)
	containerMemory := family(metricContainerMemory, "The container's working set, in bytes", gauge)
	containerStart := family(metricContainerStart, "When the container started, in seconds since the epoch", gauge)
	scrapeErr := family(metricResourceScrapeErr, "1 when the node could not read the figures, else 0", gauge)

	add(nodeCPU, nil, machine.at, machine.hasCPU, machine.cpu.Seconds())
	add(nodeMemory, nil, machine.at, machine.hasMemory, float64(machine.workingSet))
	failed := !machine.hasCPU || !machine.hasMemory
	for _, pu := range pods {
		podLabels := []*dto.LabelPair{label("namespace", pu.pod.Namespace), label("pod", pu.pod.Name)}
		add(podCPU, podLabels, pu.total.at, pu.total.hasCPU, pu.total.cpu.Seconds())
		add(podMemory, podLabels, pu.total.at, pu.total.hasMemory, float64(pu.total.workingSet))
		for _, cu := range pu.containers {
			labels := append([]*dto.LabelPair{label("container", cu.name)}, podLabels...)
			add(containerCPU, labels, cu.usage.at, cu.usage.hasCPU, cu.usage.cpu.Seconds())
			add(containerMemory, labels, cu.usage.at, cu.usage.hasMemory, float64(cu.usage.workingSet))
			add(containerStart, labels, cu.usage.at, true, float64(cu.started.UnixNano())/1e9)
			failed = failed || !cu.usage.hasCPU || !cu.usage.hasMemory
		}
	}
	scrapeFailed := 0.0
	if failed {
		scrapeFailed = 1
	}
	add(scrapeErr, nil, time.Time{}, true, scrapeFailed)
	// A family with no sample (no pod runs, a figure not read) is left
	// out: the text format has no way to write one, and virtual-kubelet
	// would answer the scrape with an error instead of the rest.
	families := []*dto.MetricFamily{nodeCPU, nodeMemory, podCPU, podMemory, containerCPU, containerMemory, containerStart, scrapeErr}
	return slices.DeleteFunc(families, func(f *dto.MetricFamily) bool { return len(f.Metric) == 0 }), nil
}

// add appends a sample to f when it was read; at zero means no timestamp.
func add(f *dto.MetricFamily, labels []*dto.LabelPair, at time.Time, ok bool, v float64) {
	if !ok {
		return
	}
	m := &dto.Metric{Label: labels}
	if !at.IsZero() {
		m.TimestampMs = ptr.To(at.UnixMilli())
	}
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		m.Counter = &dto.Counter{Value: ptr.To(v)}
	default:
		m.Gauge = &dto.Gauge{Value: ptr.To(v)}
	}
	f.Metric = append(f.Metric, m)
}

func label(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: ptr.To(name), Value: ptr.To(value)}
}

// statsSummary is the kubelet's /stats/summary for the node, its pods and
// their running containers: CPU as cumulative core-nanoseconds and, from
// the second reading on, the rate since the previous one; memory as
// working set and usage.
func (r *usageReporter) statsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	now, machine, pods := r.read()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]cgroupUsage{}
	}
	seen := map[string]bool{}
	stats := func(key string, u cgroupUsage) (*statsv1alpha1.CPUStats, *statsv1alpha1.MemoryStats) {
		seen[key] = true
		at := metav1.NewTime(u.at)
		var cpu *statsv1alpha1.CPUStats
		if u.hasCPU {
			cpu = &statsv1alpha1.CPUStats{Time: at, UsageCoreNanoSeconds: ptr.To(uint64(u.cpu))}
			if prev, ok := r.last[key]; ok && prev.hasCPU && u.at.After(prev.at) && u.cpu >= prev.cpu {
				cpu.UsageNanoCores = ptr.To(uint64(float64(u.cpu-prev.cpu) / u.at.Sub(prev.at).Seconds()))
			}
		}
		var memory *statsv1alpha1.MemoryStats
		if u.hasMemory {
			memory = &statsv1alpha1.MemoryStats{Time: at, WorkingSetBytes: ptr.To(u.workingSet), UsageBytes: ptr.To(u.usage)}
		}
		r.last[key] = u
		return cpu, memory
	}

	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: r.nodeName, StartTime: metav1.NewTime(now)}}
	s.Node.CPU, s.Node.Memory = stats("", machine)
	for _, pu := range pods {
		ps := statsv1alpha1.PodStats{
			PodRef: statsv1alpha1.PodReference{Name: pu.pod.Name, Namespace: pu.pod.Namespace, UID: string(pu.pod.UID)},
		}
		if pu.pod.Status.StartTime != nil {
			ps.StartTime = *pu.pod.Status.StartTime
		}
		ps.CPU, ps.Memory = stats(string(pu.pod.UID), pu.total)
		for _, cu := range pu.containers {
			cs := statsv1alpha1.ContainerStats{Name: cu.name, StartTime: metav1.NewTime(cu.started)}
			cs.CPU, cs.Memory = stats(string(pu.pod.UID)+"/"+cu.name, cu.usage)
			ps.Containers = append(ps.Containers, cs)
		}
		s.Pods = append(s.Pods, ps)
	}
	// Forget what is gone, so that the map does not grow with every pod
	// the node ever ran.
	for key := range r.last {
		if !seen[key] {
			delete(r.last, key)
		}
	}
	return s, nil
}
