//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/nodetest"
	"flywheel.dev/pkg/sources/ping"
)

// pingBenchSources is how many PingSources BenchmarkPingSources runs.
const pingBenchSources = 1000

// BenchmarkPingSources runs 1,000 PingSources that tick every minute on
// the one PingSource adapter, into the eventing benchmark's sink, and
// measures one minute: how late each tick's event arrives after the
// minute began (p50, p99, max: the sink takes the event's time, when the
// tick was due), the adapter's CPU averaged over the minute and its
// memory.
//
//	go test -tags e2e -run '^$' -bench PingSources -benchtime 1x -timeout 30m ./test/e2e/
func BenchmarkPingSources(b *testing.B) {
	client := versioned.NewForConfigOrDie(cluster.ControlPlane.RESTConfig())
	ns := newNamespace(b, "pingbench")
	sinkIP := runSink(b, ns)
	sink := &apis.URL{Scheme: "http", Host: "sink." + ns + ".svc.cluster.local"}
	made := time.Now()
	for i := range pingBenchSources {
		if _, err := client.SourcesV1().PingSources(ns).Create(b.Context(), &sourcesv1.PingSource{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ping-%04d", i), Namespace: ns},
			Spec: sourcesv1.PingSourceSpec{
				SourceSpec: duckv1.SourceSpec{Sink: duckv1.Destination{URI: sink}},
				Schedule:   "* * * * *",
				Data:       fmt.Sprintf(`{"n":%d}`, i),
			},
		}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	var ready int
	if err := wait.PollUntilContextTimeout(b.Context(), time.Second, readyTimeout, true, func(ctx context.Context) (bool, error) {
		list, err := client.SourcesV1().PingSources(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready = 0
		for _, ps := range list.Items {
			if ps.IsReady() {
				ready++
			}
		}
		return ready == pingBenchSources, nil
	}); err != nil {
		b.Fatalf("%d of %d PingSources Ready", ready, pingBenchSources)
	}
	b.Logf("%d PingSources made and Ready in %v", pingBenchSources, time.Since(made).Round(time.Second))

	selector := "app.kubernetes.io/name=" + ping.AdapterDeploymentName
	// The adapter loads what it learned of the sources before the
	// minute that is measured; its figures start one second before it.
	minute := time.Now().Truncate(time.Minute).Add(time.Minute)
	if time.Until(minute) < 5*time.Second {
		minute = minute.Add(time.Minute)
	}
	time.Sleep(time.Until(minute.Add(-time.Second)))
	sinkStatsOf(b, sinkIP, true)
	cpuBefore := containerCPU(b, "flywheel-system", selector, "adapter")
	time.Sleep(time.Until(minute.Add(59 * time.Second)))
	cpuAfter := containerCPU(b, "flywheel-system", selector, "adapter")
	st := sinkStatsOf(b, sinkIP, false)
	rss, hwm := containerMemory(b, "flywheel-system", selector, "adapter")

	cores := float64(cpuAfter-cpuBefore) / float64(time.Minute)
	b.Logf("the minute of %s: %d of %d ticks arrived; late by p50 %.0f ms, p99 %.0f ms, max %.0f ms; adapter CPU %.4f cores over the minute; RSS %.1f MiB (peak %.1f MiB)",
		minute.Format("15:04"), st.Count, pingBenchSources, ms(st.P50), ms(st.P99), ms(st.Max), cores, rss, hwm)
	if st.Count < pingBenchSources {
		b.Errorf("%d of %d ticks arrived within the minute", st.Count, pingBenchSources)
	}
	b.ReportMetric(ms(st.P50), "late-p50-ms")
	b.ReportMetric(ms(st.P99), "late-p99-ms")
	b.ReportMetric(cores, "adapter-cores")
	b.ReportMetric(rss, "adapter-rss-MiB")
}

// containerMemory is the VmRSS and VmHWM, in MiB, of the processes of a
// container, summed, from /proc.
func containerMemory(b testing.TB, ns, selector, container string) (rss, hwm float64) {
	b.Helper()
	pod := onePod(b, ns, selector)
	procs, err := os.ReadFile(filepath.Join(nodetest.NodeCgroup(node.DefaultNodeName), "pod-"+string(pod.UID), container, "cgroup.procs"))
	if err != nil {
		b.Fatalf("listing the %s container's processes: %v", container, err)
	}
	for pid := range strings.FieldsSeq(string(procs)) {
		status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || (name != "VmRSS" && name != "VmHWM") {
				continue
			}
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
			if err != nil {
				continue
			}
			if name == "VmRSS" {
				rss += kb / 1024
			} else {
				hwm += kb / 1024
			}
		}
	}
	return rss, hwm
}
