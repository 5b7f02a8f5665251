//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/stats"
)

// TestQueueProxyInTransparentMode runs the real queue-proxy (the code of
// cmd/queue) in transparent mode in a pod-like network namespace: with
// the init container's rules installed, a request to the app's own port
// is answered by the app and counted by the sidecar, and a network probe
// sent to the app's port is answered by the sidecar itself.
func TestQueueProxyInTransparentMode(t *testing.T) {
	requireRootAndIPTables(t)
	pod := newPodNetns(t, interceptNetns)
	helper := helperBinary(t)
	pod.serveApp(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, appBody)
	})
	pod.installRules(t)

	cfg := queue.DefaultConfig(interceptAppPort)
	cfg.Mode = queue.ModeTransparent
	cfg.ContainerConcurrency = 4
	cfg.QueueDepth = 40
	cfg.Revision = "hello-00001"
	var env []string
	for _, e := range cfg.Env() {
		env = append(env, e.Name.String()+"="+e.Value)
	}
	started := time.Now()
	pod.startHelper(t, helper, "queue", env)

	host := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	at := func(port int, path string) string {
		return fmt.Sprintf("http://%s%s", netip.AddrPortFrom(pod.ip, uint16(port)), path)
	}
	waitUntil(t, 20*time.Second, "the queue-proxy to report ready", func(context.Context) (bool, error) {
		resp, err := host.Get(at(queue.AdminPort, queue.ReadyPath))
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})

	const requests = 3
	for range requests {
		resp, err := host.Get(at(interceptAppPort, "/"))
		if err != nil {
			t.Fatalf("GET the app's port: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != appBody {
			t.Fatalf("GET the app's port = %d %q, want the app's 200 %q", resp.StatusCode, body, appBody)
		}
	}

	probe, err := http.NewRequest(http.MethodGet, at(interceptAppPort, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	probe.Header.Set(queue.NetworkProbeHeader, queue.NetworkProbeValue)
	resp, err := host.Do(probe)
	if err != nil {
		t.Fatalf("network probe to the app's port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != queue.NetworkProbeValue {
		t.Errorf("network probe to the app's port = %d %q, want the sidecar's own 200 %q", resp.StatusCode, body, queue.NetworkProbeValue)
	}

	// The stats cover whole seconds; wait until the seconds since the
	// sidecar started include the requests.
	since := url.QueryEscape(started.Add(-time.Second).UTC().Format(time.RFC3339Nano))
	var report stats.Report
	waitUntil(t, 10*time.Second, "the stats to count the requests", func(context.Context) (bool, error) {
		resp, err := host.Get(at(queue.MetricsPort, queue.StatsPath+"?"+stats.SinceParam+"="+since))
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&report); err != nil {
			return false, err
		}
		return report.ProxiedRequestCount >= requests && report.ProbeRequestCount >= 1, nil
	})
	if report.Revision != "hello-00001" || report.Version != stats.Version {
		t.Errorf("report labels = %+v, want revision hello-00001, version %d", report, stats.Version)
	}
}
