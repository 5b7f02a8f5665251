package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/test/bench/internal/benchkit"
)

// The steps of an up, in the order they complete. local.Up reports none
// of them, so each is read from what it leaves behind: a line of the
// control plane's log, the node's log file appearing in the work
// directory (local.Up creates it just before it starts the node), a
// component's pod first seen Ready through the API server, or the
// harness's own check once Up has returned.
const (
	stepEtcd              = "etcd ready"
	stepAPIServer         = "kube-apiserver ready"
	stepControllerManager = "kube-controller-manager ready"
	stepNode              = "node started"
	stepControllerPod     = "controller pod Ready"
	stepGatewayPod        = "gateway pod Ready"
	stepWebhookPod        = "webhook pod Ready"
	stepActivatorPod      = "activator pod Ready"
	stepKubeProxyPod      = "kube-proxy pod Ready"
	stepCoreDNSPod        = "CoreDNS pod Ready"
	stepUpReturned        = "local.Up returned"
	stepNodeReady         = "Node Ready"
	stepServing           = "gateway and activator answer"
	stepAllReady          = "all ready"
)

// upStep is one step of an up and what it covers, for the report.
type upStep struct {
	name, covers string
	// log is the line of the control plane's log, file the file in the
	// work directory that appears, component the component whose pod's
	// Ready condition marks the step done.
	log, file, component string
}

var upSteps = []upStep{
	{name: stepEtcd, covers: "certificates, etcd started and healthy", log: "etcd ready at"},
	{name: stepAPIServer, covers: "kube-apiserver started and ready", log: "kube-apiserver ready at"},
	{name: stepControllerManager, covers: "kube-controller-manager started and healthy", log: "kube-controller-manager ready at"},
	{name: stepNode, covers: "Gateway API CRDs and config/core applied, Deployments created", file: "node.log"},
	// The node builds the images one at a time, in the order their
	// pods arrive; the steps below are in the usual order.
	{name: stepControllerPod, covers: "node registered; the pods bound; `go build` of the image (a no-op link when cached), process started, readiness probe passed", component: "controller"},
	{name: stepGatewayPod, covers: "the same for the gateway", component: "gateway"},
	{name: stepWebhookPod, covers: "the same for the webhook", component: "webhook"},
	{name: stepActivatorPod, covers: "the same for the activator", component: "activator"},
	{name: stepKubeProxyPod, covers: "kube-proxy's pod (a prebuilt executable) started, its first sync of the rules done", component: "kube-proxy"},
	{name: stepCoreDNSPod, covers: "CoreDNS's pod (a prebuilt executable) started, its first list of the API done", component: "kube-dns"},
	{name: stepUpReturned, covers: "the webhook serving both configurations, the controller's reconcilers holding their leases"},
	{name: stepNodeReady, covers: "the Node's Ready condition seen True (the harness's check)"},
	{name: stepServing, covers: "an HTTP answer from each (the harness's check)"},
}

// upResult is one local.Up and what followed it until every component
// was ready.
type upResult struct {
	LoadAvg string `json:"loadAvg"`
	// Marks are when each step was seen done, since local.Up was called.
	Marks map[string]time.Duration `json:"marks"`
	// Stop is how long the cluster's Stop took afterwards.
	Stop time.Duration `json:"stop,omitempty"`
}

// Total is local.Up's call to every component ready.
func (u upResult) Total() time.Duration { return u.Marks[stepAllReady] }

// up brings the cluster up, the nth time, as the e2e tests and `fw local up` do, and
// waits, beyond what local.Up waits for, until the Node is Ready and the
// gateway and the activator answer.
func (b *bench) up(ctx context.Context, n int) (upResult, error) {
	u := upResult{LoadAvg: benchkit.LoadAverage(), Marks: map[string]time.Duration{}}
	cpLog := &markingWriter{}
	watchCtx, stopWatching := context.WithCancel(ctx)
	files := make(chan map[string]time.Time, 1)
	pods := make(chan map[string]time.Time, 1)
	began := time.Now()
	go func() { files <- watchFiles(watchCtx, b.cfg.WorkDir, upSteps) }()
	go func() { pods <- watchComponentPods(watchCtx, b.cfg.WorkDir) }()
	c, err := local.Up(ctx, local.Options{
		ControlPlane:   controlplane.Options{BinDir: b.binDir, ControllerManager: true, Log: cpLog},
		Controller:     true,
		Node:           true,
		GatewayAddress: "127.0.0.1:0",
		WorkDir:        b.cfg.WorkDir,
	})
	returned := time.Now()
	stopWatching()
	seen, ready := <-files, <-pods
	_ = os.WriteFile(filepath.Join(b.logDir, fmt.Sprintf("controlplane-up-%d.log", n)), cpLog.bytes(), 0o644)
	if err != nil {
		return u, err
	}
	b.cluster = c
	for _, s := range upSteps {
		var at time.Time
		switch {
		case s.log != "":
			at = cpLog.first(s.log)
		case s.file != "":
			at = seen[s.file]
		case s.component != "":
			at = ready[s.component]
		}
		if !at.IsZero() {
			u.Marks[s.name] = at.Sub(began)
		}
	}
	u.Marks[stepUpReturned] = returned.Sub(began)

	nodeReady, err := waitNodeReady(ctx, c)
	if err != nil {
		return u, err
	}
	u.Marks[stepNodeReady] = nodeReady.Sub(began)
	serving, err := waitServing(ctx, c)
	if err != nil {
		return u, err
	}
	u.Marks[stepServing] = serving.Sub(began)
	u.Marks[stepAllReady] = max(u.Marks[stepUpReturned], u.Marks[stepNodeReady], u.Marks[stepServing])
	return u, nil
}

// markingWriter keeps the control plane's log lines with the time each
// was written.
type markingWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []markedLine
}

type markedLine struct {
	at   time.Time
	text string
}

func (w *markingWriter) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.lines = append(w.lines, markedLine{at: now, text: l})
		fmt.Fprintf(&w.buf, "%s %s\n", now.Format("15:04:05.000"), l)
	}
	return len(p), nil
}

// first is when the first line containing s was written; zero if none.
func (w *markingWriter) first(s string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l.text, s) {
			return l.at
		}
	}
	return time.Time{}
}

func (w *markingWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

// filePoll is how often watchFiles looks: the precision of the steps it
// marks.
const filePoll = 5 * time.Millisecond

// watchFiles returns, once ctx ends, when each step's file first existed
// in dir.
func watchFiles(ctx context.Context, dir string, steps []upStep) map[string]time.Time {
	seen := map[string]time.Time{}
	look := func() {
		now := time.Now()
		for _, s := range steps {
			if _, ok := seen[s.file]; !ok && s.file != "" {
				if _, err := os.Stat(filepath.Join(dir, s.file)); err == nil {
					seen[s.file] = now
				}
			}
		}
	}
	t := time.NewTicker(filePoll)
	defer t.Stop()
	for {
		look()
		select {
		case <-ctx.Done():
			// A file made since the last look, just before Up returned.
			look()
			return seen
		case <-t.C:
		}
	}
}

// watchComponentPods returns, once ctx ends, when the pod of each
// component (by its app.kubernetes.io/component label) was first seen
// Ready. It finds the API server in the state local.Up writes.
func watchComponentPods(ctx context.Context, workDir string) map[string]time.Time {
	ready := map[string]time.Time{}
	var kube kubernetes.Interface
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ready
		case <-t.C:
		}
		if kube == nil {
			st, err := local.ReadState(workDir)
			if err != nil || st.Kubeconfig == "" {
				continue
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", st.Kubeconfig)
			if err != nil {
				continue
			}
			if kube, err = kubernetes.NewForConfig(cfg); err != nil {
				continue
			}
		}
		flywheel, err := kube.CoreV1().Pods(local.SystemNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		// kube-proxy's and CoreDNS's, by their k8s-app label.
		networking, err := kube.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		now := time.Now()
		for _, p := range append(flywheel.Items, networking.Items...) {
			name := cmp.Or(p.Labels["app.kubernetes.io/component"], p.Labels["k8s-app"])
			if _, done := ready[name]; done || name == "" {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready[name] = now
				}
			}
		}
	}
}

// readyPoll is how often the harness checks what it waits for after Up.
const readyPoll = 10 * time.Millisecond

// waitNodeReady returns when the Node's Ready condition was first seen
// True.
func waitNodeReady(ctx context.Context, c *local.Flywheel) (time.Time, error) {
	var at time.Time
	err := wait.PollUntilContextTimeout(ctx, readyPoll, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, node.DefaultNodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				at = time.Now()
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return at, fmt.Errorf("waiting for Node %s to be Ready: %w", node.DefaultNodeName, err)
	}
	return at, nil
}

// waitServing returns when the gateway and the activator have both
// answered an HTTP request (any status: nothing is routed yet).
func waitServing(ctx context.Context, c *local.Flywheel) (time.Time, error) {
	activator, err := activatorAddress(ctx, c)
	if err != nil {
		return time.Time{}, err
	}
	client := &http.Client{Timeout: time.Second}
	for _, addr := range []string{c.GatewayAddr, activator} {
		err := wait.PollUntilContextTimeout(ctx, readyPoll, time.Minute, true, func(ctx context.Context) (bool, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
			if err != nil {
				return false, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return false, nil
			}
			resp.Body.Close()
			return true, nil
		})
		if err != nil {
			return time.Time{}, fmt.Errorf("waiting for an answer from %s: %w", addr, err)
		}
	}
	return time.Now(), nil
}

// activatorAddress is the activator pod's address, from its Service's
// EndpointSlice.
func activatorAddress(ctx context.Context, c *local.Flywheel) (string, error) {
	list, err := c.Kube.DiscoveryV1().EndpointSlices(local.SystemNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + activator.ServiceName,
	})
	if err != nil {
		return "", err
	}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if len(e.Addresses) > 0 {
				return net.JoinHostPort(e.Addresses[0], "8012"), nil
			}
		}
	}
	return "", fmt.Errorf("the activator's Service %s has no endpoints", activator.ServiceName)
}
