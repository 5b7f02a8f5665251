package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"flywheel.dev/test/bench/internal/benchkit"
)

// TestNodeLogTime reads the node's slog lines: the pod's own line, to the
// millisecond, and nothing for another pod whose name it starts.
func TestNodeLogTime(t *testing.T) {
	log := []byte(`time=2026-11-29T23:40:01.100Z level=INFO msg="pod started" pod=bench-node/probe-1-10 ip=10.244.0.3 netns=/run/netns/fwpod-a
time=2026-11-29T23:40:01.123Z level=INFO msg="pod started" pod=bench-node/probe-1-1 ip=10.244.0.2 netns=/run/netns/fwpod-b
time=2026-11-29T23:40:02.456Z level=INFO msg="pod stopped" pod=bench-node/probe-1-1
`)
	for _, tc := range []struct {
		msg, pod string
		want     time.Time
		ok       bool
	}{
		{"pod started", "bench-node/probe-1-1", time.Date(2026, 11, 29, 23, 40, 1, 123e6, time.UTC), true},
		{"pod stopped", "bench-node/probe-1-1", time.Date(2026, 11, 29, 23, 40, 2, 456e6, time.UTC), true},
		{"pod stopped", "bench-node/probe-1-10", time.Time{}, false},
	} {
		got, ok := nodeLogTime(log, tc.msg, tc.pod)
		if !got.Equal(tc.want) || ok != tc.ok {
			t.Errorf("nodeLogTime(%q, %q) = %v, %t; want %v, %t", tc.msg, tc.pod, got, ok, tc.want, tc.ok)
		}
	}
}

// TestAppLogTimes reads the app's marks and skips what else it printed.
func TestAppLogTimes(t *testing.T) {
	got := appLogTimes([]byte("main 1764459601123456789\nlistening 1764459601124000000\n2026/11/29 a log line\n"))
	want := map[string]time.Time{markMain: time.Unix(0, 1764459601123456789), markListen: time.Unix(0, 1764459601124000000)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("appLogTimes (-want, +got):\n%s", diff)
	}
}

// TestObserve keeps the first time each step shows: a later event does
// not move a mark, and a container that is not running yet marks nothing.
func TestObserve(t *testing.T) {
	marks := map[string]time.Duration{}
	bound := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "flywheel-local"}}
	waiting := bound.DeepCopy()
	waiting.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	running := bound.DeepCopy()
	running.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	running.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	ready := running.DeepCopy()
	ready.Status.Conditions[0].Status = corev1.ConditionTrue
	for i, p := range []*corev1.Pod{{}, bound, waiting, running, running, ready} {
		observe(marks, p, time.Duration(i)*time.Millisecond)
	}
	want := map[string]time.Duration{markBound: 1 * time.Millisecond, markRunning: 3 * time.Millisecond, markReady: 5 * time.Millisecond}
	if diff := cmp.Diff(want, marks); diff != "" {
		t.Errorf("marks (-want, +got):\n%s", diff)
	}
}

func pod(bound, sandbox, running, ready int) podTimes {
	return podTimes{Marks: map[string]time.Duration{
		markBound: time.Duration(bound) * time.Millisecond, markSandbox: time.Duration(sandbox) * time.Millisecond,
		markRunning: time.Duration(running) * time.Millisecond, markReady: time.Duration(ready) * time.Millisecond,
	}}
}

// TestGoals reads the goals off two runs: the up goal from the ups that
// found their binaries (not the first), the node's share per variant as
// the median over runs of each run's p50, and a variant not measured.
func TestGoals(t *testing.T) {
	up := func(total time.Duration) upResult {
		return upResult{Marks: map[string]time.Duration{stepAllReady: total}}
	}
	res := results{
		Config: runConfig{Variants: []string{variantProbe, variantNoProbe}},
		Ups:    []upResult{up(40 * time.Second), up(19 * time.Second), up(21 * time.Second)},
		PodRuns: []podRun{
			{Variant: variantProbe, Run: 1, Pods: []podTimes{pod(5, 30, 150, 1150), pod(5, 30, 150, 1170), pod(5, 30, 150, 1160)}},
			{Variant: variantProbe, Run: 2, Pods: []podTimes{pod(5, 30, 150, 1180), pod(5, 30, 150, 1190), pod(5, 30, 150, 1185)}},
		},
	}
	want := []benchkit.Goal{
		{Name: "fw local up to all components ready, cached binaries (median of ups 2…)", Target: "≤ 20 s", Measured: "20.00 s", Verdict: "met"},
		{Name: "pod create → Ready p50, node's share (bound → Ready), probe", Target: "≤ 150 ms", Measured: "1167.5 ms", Verdict: "**missed** by 1017.50 ms (678% over)"},
		{Name: "pod create → Ready p50, node's share (bound → Ready), no-probe", Target: "≤ 150 ms", Measured: "–", Verdict: benchkit.NotMeasured},
	}
	if diff := cmp.Diff(want, res.goals()); diff != "" {
		t.Errorf("goals (-want, +got):\n%s", diff)
	}
}

// TestPodSummary splits a pod's way by its marks and leaves out pods
// without a mark an interval needs.
func TestPodSummary(t *testing.T) {
	noSandbox := pod(4, 0, 100, 1100)
	delete(noSandbox.Marks, markSandbox)
	res := results{PodRuns: []podRun{{Variant: variantProbe, Pods: []podTimes{pod(5, 30, 150, 1150), pod(6, 40, 170, 1170), noSandbox}}}}
	for _, tc := range []struct {
		f    podFigure
		want benchkit.Latency
	}{
		{figNodeShare, benchkit.Latency{N: 3, P50: 1145, P95: 1164, Max: 1164}},
		{podFigures[3], benchkit.Latency{N: 2, P50: 25, P95: 34, Max: 34}},
	} {
		got, ok := res.podSummary(variantProbe, tc.f)
		if diff := cmp.Diff(tc.want, got); !ok || diff != "" {
			t.Errorf("%s: ok %t (-want, +got):\n%s", tc.f.name, ok, diff)
		}
	}
}

// TestMarkdownUpSteps shows each step as the time since the step before
// it, and a step not seen as a dash.
func TestMarkdownUpSteps(t *testing.T) {
	res := results{Ups: []upResult{{Marks: map[string]time.Duration{
		stepEtcd: time.Second, stepAPIServer: 3 * time.Second, stepNode: 4500 * time.Millisecond, stepAllReady: 9 * time.Second,
	}}}}
	md := res.markdown()
	for _, want := range []string{
		"| etcd ready | certificates, etcd started and healthy | 1.00 s |",
		"| kube-apiserver ready | kube-apiserver started and ready | 2.00 s |",
		"| kube-controller-manager ready | kube-controller-manager started and healthy | – |",
		"| node started | Gateway API CRDs and config/core applied, Deployments created | 1.50 s |",
		"| controller pod Ready | node registered; the pods bound; `go build` of the image (a no-op link when cached), process started, readiness probe passed | – |",
		"| **all ready** | local.Up called → all of the above | **9.00 s** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
