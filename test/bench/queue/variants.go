package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/test/bench/internal/benchkit"
)

// pod is one app, with or without a proxy in front of it: what a load
// level runs against.
type pod struct {
	// url is where the load goes.
	url string
	// app and proxy are the processes measured; proxy is nil when the
	// load goes to the app directly.
	app, proxy *benchkit.Proc
	// stats is the sidecar's stats URL, scraped during load as the
	// autoscaler would; empty when there is none.
	stats string
	// profile is the URL of a CPU profile of the proxy; empty unless
	// profiling was asked for.
	profile string
	// sandbox is the transparent-mode pod's network namespace, where the
	// load generator runs too; nil on the host.
	sandbox *sandbox
}

// podOptions are what a variant's pod is started with.
type podOptions struct {
	app string
	// concurrency is the load's, to size the baseline's idle pool.
	concurrency int
	// containerConcurrency is the sidecar's limit.
	containerConcurrency int
	profile              bool
}

// A variant is one way of putting the app on the network.
type variant struct {
	name  string
	about string
	start func(ctx context.Context, h *harness, o podOptions) (*pod, error)
}

// variants are every variant the harness knows, in report order.
var variants = []variant{
	{"direct", "the app with nothing in front", startDirect},
	{"baseline", "httputil.ReverseProxy + in-flight counter, built here", startBaseline},
	{"port", "the sidecar in port mode, limits + stats + probes on", startPortSidecar},
	{"transparent", "the sidecar in transparent mode in a network namespace, same settings", startTransparentSidecar},
	{"port-traced", "port, with tracing on: every request sampled, spans sent over OTLP/HTTP to a sink in the harness", startTracedPortSidecar},
}

// target is what the load is sent to and watches.
func (p *pod) target() benchkit.Target {
	t := benchkit.Target{URL: p.url, Watch: map[string]*benchkit.Proc{"app": p.app}, Scrape: p.stats}
	if p.proxy != nil {
		t.Watch["proxy"] = p.proxy
	}
	if p.sandbox != nil {
		t.Netns = p.sandbox.name
	}
	return t
}

func findVariant(name string) (variant, error) {
	var known []string
	for _, v := range variants {
		if v.name == name {
			return v, nil
		}
		known = append(known, v.name)
	}
	return variant{}, fmt.Errorf("unknown variant %q; known: %s", name, strings.Join(known, ", "))
}

func (h *harness) stopPod(p *pod) {
	if p == nil {
		return
	}
	// The proxy first, so it never sees the app vanish under load; the
	// namespace last, once nothing runs in it.
	h.Sup.Stop(p.proxy)
	h.Sup.Stop(p.app)
	p.sandbox.close()
}

func startDirect(ctx context.Context, h *harness, o podOptions) (*pod, error) {
	app, port, err := h.StartApp(ctx, o.app)
	if err != nil {
		return nil, err
	}
	return &pod{url: fmt.Sprintf("http://127.0.0.1:%d/", port), app: app}, nil
}

func startBaseline(ctx context.Context, h *harness, o podOptions) (*pod, error) {
	app, appPort, err := h.StartApp(ctx, o.app)
	if err != nil {
		return nil, err
	}
	b, err := h.StartBaseline(ctx, "127.0.0.1:"+strconv.Itoa(appPort), o.concurrency, o.profile)
	if err != nil {
		h.Sup.Stop(app)
		return nil, err
	}
	return &pod{url: b.URL, app: app, proxy: b.Proc, profile: b.Profile}, nil
}

func startPortSidecar(ctx context.Context, h *harness, o podOptions) (*pod, error) {
	return h.startPortPod(ctx, o, "")
}

func startTracedPortSidecar(ctx context.Context, h *harness, o podOptions) (*pod, error) {
	endpoint, err := h.spans.Endpoint()
	if err != nil {
		return nil, err
	}
	return h.startPortPod(ctx, o, endpoint)
}

// startPortPod starts the app and the sidecar in port mode in front of
// it, tracing every request to traceEndpoint when it is not empty.
func (h *harness) startPortPod(ctx context.Context, o podOptions, traceEndpoint string) (*pod, error) {
	app, appPort, err := h.StartApp(ctx, o.app)
	if err != nil {
		return nil, err
	}
	pd := &pod{app: app}
	sc, err := h.startSidecar(ctx, appPort, sidecarOptions{
		mode:                 queue.ModePort,
		containerConcurrency: o.containerConcurrency,
		profile:              o.profile,
		traceEndpoint:        traceEndpoint,
	})
	if err != nil {
		h.stopPod(pd)
		return nil, err
	}
	if err := sc.waitReady(ctx); err != nil {
		h.Sup.Stop(sc.proc)
		h.stopPod(pd)
		return nil, err
	}
	pd.proxy = sc.proc
	pd.url = fmt.Sprintf("http://127.0.0.1:%d/", sc.cfg.ServingPort)
	if h.statsServed(ctx, sc) {
		pd.stats = fmt.Sprintf("http://127.0.0.1:%d%s", sc.cfg.MetricsPort, queue.StatsPath)
	}
	if o.profile {
		pd.profile = sc.url(sc.cfg.ProfilingPort, "/debug/pprof/profile")
	}
	return pd, nil
}

// startTransparentSidecar starts a pod as transparent mode runs one: in a
// network namespace of its own, the rules installed first by `queue
// iptables` (the init container), then the app on its port and the
// sidecar as queue.SidecarUID. The load generator runs in the namespace
// too and sends to the app's port at the pod's IP, so the path differs
// from port mode's only by the redirect and the intercept listener.
func startTransparentSidecar(ctx context.Context, h *harness, o podOptions) (*pod, error) {
	sb, err := newSandbox(ctx)
	if err != nil {
		return nil, err
	}
	pd := &pod{sandbox: sb}
	ports, err := h.PickPorts(2)
	if err != nil {
		h.stopPod(pd)
		return nil, err
	}
	appPort, interceptPort := ports[0], ports[1]
	err = h.Sup.Run(ctx, "iptables", benchkit.StartOptions{CPU: -1, Netns: sb.name}, h.queueBin, queue.IPTablesCommand,
		"--"+queue.IPTablesFlagAppPort, strconv.Itoa(appPort),
		"--"+queue.IPTablesFlagInterceptPort, strconv.Itoa(interceptPort),
		"--"+queue.IPTablesFlagExcludeUID, strconv.Itoa(queue.SidecarUID))
	if err != nil {
		h.stopPod(pd)
		return nil, fmt.Errorf("installing the redirect rules: %w", err)
	}
	// The app listens on every address, as in a pod; the harness cannot
	// reach it on the pod's loopback, so the sidecar's readiness says
	// when it serves.
	pd.app, err = h.Sup.Start("app-"+o.app, benchkit.StartOptions{CPU: h.PodCPU, Netns: sb.name},
		h.Self, "app", "--mode", o.app, "--delay", h.Sleep.String(), "--listen", ":"+strconv.Itoa(appPort))
	if err != nil {
		h.stopPod(pd)
		return nil, err
	}
	sc, err := h.startSidecar(ctx, appPort, sidecarOptions{
		mode:                 queue.ModeTransparent,
		containerConcurrency: o.containerConcurrency,
		profile:              o.profile,
		sandbox:              sb,
		interceptPort:        interceptPort,
	})
	if err != nil {
		h.stopPod(pd)
		return nil, err
	}
	pd.proxy = sc.proc
	if err := sc.waitReady(ctx); err != nil {
		h.stopPod(pd)
		return nil, err
	}
	pd.url = fmt.Sprintf("http://%s:%d/", sb.ip, appPort)
	if h.statsServed(ctx, sc) {
		pd.stats = fmt.Sprintf("http://127.0.0.1:%d%s", sc.cfg.MetricsPort, queue.StatsPath)
	}
	if o.profile {
		pd.profile = sc.url(sc.cfg.ProfilingPort, "/debug/pprof/profile")
	}
	return pd, nil
}

// sidecarOptions are the settings the benchmark varies; the rest are the
// defaults a Revision gets.
type sidecarOptions struct {
	mode                 queue.Mode
	containerConcurrency int
	profile              bool
	// sandbox runs the sidecar in a transparent-mode pod's namespace, as
	// queue.SidecarUID, with interceptPort as the rules' target.
	sandbox       *sandbox
	interceptPort int
	// traceEndpoint, when set, turns tracing on at every request,
	// exported over OTLP/HTTP there.
	traceEndpoint string
}

// sidecar is a started queue-proxy.
type sidecar struct {
	proc *benchkit.Proc
	cfg  queue.Config
	// host is the address at which the harness reaches the sidecar's
	// ports.
	host string
}

func (sc *sidecar) url(port int, path string) string {
	return fmt.Sprintf("http://%s:%d%s", sc.host, port, path)
}

// probe is the app's readiness probe in every sidecar run: an HTTP probe
// every second, more than the kubelet's default, so that probing is
// plainly on while the load runs.
var probe = queue.ProbeSpec{HTTPGet: &queue.HTTPGetProbe{Path: benchkit.HealthPath}, PeriodSeconds: 1}

// startSidecar starts the queue-proxy for an app on appPort and waits
// until its admin port answers (not until the app is ready: the start-up
// measurement starts the app after this returns). Its environment is
// written by queue.Config.Env, as the Revision reconciler writes it.
func (h *harness) startSidecar(ctx context.Context, appPort int, o sidecarOptions) (*sidecar, error) {
	ports, err := h.PickPorts(5)
	if err != nil {
		return nil, err
	}
	cfg := queue.DefaultConfig(appPort)
	cfg.Mode = o.mode
	cfg.ServingPort, cfg.InterceptPort, cfg.AdminPort, cfg.MetricsPort = ports[0], ports[1], ports[2], ports[3]
	if o.interceptPort != 0 {
		cfg.InterceptPort = o.interceptPort
	}
	if o.profile {
		cfg.ProfilingPort = ports[4]
	}
	cfg.ContainerConcurrency = o.containerConcurrency
	cfg.QueueDepth = queue.QueueDepthPerSlot * o.containerConcurrency
	cfg.ReadinessProbe = probe
	// Stopping a sidecar between levels should not wait out a drain
	// meant for endpoint propagation.
	cfg.DrainWindow = 0
	cfg.Namespace, cfg.Service, cfg.Configuration, cfg.Revision, cfg.Pod = "bench", "bench", "bench", "bench-00001", "bench-pod"
	if o.traceEndpoint != "" {
		cfg.Observability.TracingProtocol = "http/protobuf"
		cfg.Observability.TracingEndpoint = o.traceEndpoint
		cfg.Observability.TracingSamplingRate = "1"
	}

	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYWHEEL_") {
			env = append(env, kv)
		}
	}
	for _, v := range cfg.Env() {
		env = append(env, v.Name.String()+"="+v.Value)
	}
	so := benchkit.StartOptions{CPU: h.PodCPU, Env: env}
	sc := &sidecar{cfg: cfg, host: "127.0.0.1"}
	if o.sandbox != nil {
		so.Netns, so.UID = o.sandbox.name, queue.SidecarUID
		sc.host = o.sandbox.ip
	}
	p, err := h.Sup.Start("queue-"+string(o.mode), so, h.queueBin)
	if err != nil {
		return nil, err
	}
	sc.proc = p
	if err := benchkit.WaitOK(ctx, p, sc.adminURL(queue.HealthPath), 10*time.Second); err != nil {
		h.Sup.Stop(p)
		return nil, err
	}
	return sc, nil
}

func (sc *sidecar) adminURL(path string) string { return sc.url(sc.cfg.AdminPort, path) }

// waitReady waits until the sidecar's readiness endpoint answers 200.
func (sc *sidecar) waitReady(ctx context.Context) error {
	return benchkit.WaitOK(ctx, sc.proc, sc.adminURL(queue.ReadyPath), 10*time.Second)
}

// statsServed reports whether the sidecar serves its stats, which it does
// once the stats are wired into cmd/queue. The answer is the same for
// every sidecar of a run, so it is asked once.
func (h *harness) statsServed(ctx context.Context, sc *sidecar) bool {
	h.statsOnce.Do(func() {
		url := sc.url(sc.cfg.MetricsPort, queue.StatsPath)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
		if err != nil {
			return
		}
		resp.Body.Close()
		h.stats = resp.StatusCode == http.StatusOK
	})
	return h.stats
}
