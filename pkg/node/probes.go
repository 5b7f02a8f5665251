package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/node/containerinit"
)

// probeUserAgent is what HTTP probes send, as the kubelet's "kube-probe/<version>".
const probeUserAgent = "kube-probe/flywheel"

// probeTracker applies a probe's thresholds to its results: the result it
// reports flips only after successThreshold successes or failureThreshold
// failures in a row. It starts with none reported; the caller decides what
// that means (a readiness probe's container is not ready yet).
type probeTracker struct {
	successThreshold, failureThreshold int32

	successes, failures int32
	reported            bool
	result              bool
}

func newProbeTracker(p *corev1.Probe) *probeTracker {
	t := &probeTracker{successThreshold: p.SuccessThreshold, failureThreshold: p.FailureThreshold}
	// The API defaults both; a pod built in a unit test may not have.
	if t.successThreshold < 1 {
		t.successThreshold = 1
	}
	if t.failureThreshold < 1 {
		t.failureThreshold = 3
	}
	return t
}

// observe records one result and reports whether the reported result
// changed, and to what.
func (t *probeTracker) observe(ok bool) (changed, result bool) {
	if ok {
		t.successes++
		t.failures = 0
		if t.successes >= t.successThreshold && (!t.reported || !t.result) {
			t.reported, t.result = true, true
			return true, true
		}
	} else {
		t.failures++
		t.successes = 0
		if t.failures >= t.failureThreshold && (!t.reported || t.result) {
			t.reported, t.result = true, false
			return true, false
		}
	}
	return false, t.result
}

// probeFunc runs one probe attempt; msg says why it failed.
type probeFunc func(ctx context.Context) (ok bool, msg string)

// probeTimes are a probe's timings with the API's defaults for zero values.
func probeTimes(p *corev1.Probe) (initialDelay, period, timeout time.Duration) {
	period, timeout = 10*time.Second, time.Second
	if p.PeriodSeconds > 0 {
		period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	return time.Duration(p.InitialDelaySeconds) * time.Second, period, timeout
}

// Until a readiness probe first succeeds, it is tried this often,
// doubling from the first to the last: a container that listens 20 ms
// after it starts is ready then, not a whole period later.
const (
	firstSuccessMinInterval = 5 * time.Millisecond
	firstSuccessMaxInterval = 20 * time.Millisecond
)

// fastFirstSuccess reports whether the readiness probe p may be tried at
// short intervals until it first succeeds: over HTTP or TCP (cheap to
// try; an exec probe starts a process) whose first success is enough to
// be ready. Its failures change nothing until then, as a container starts
// unready; a liveness or startup probe's failures kill the container, so
// they keep the kubelet's pace.
func fastFirstSuccess(p *corev1.Probe) bool {
	return p.SuccessThreshold <= 1 && (p.HTTPGet != nil || p.TCPSocket != nil)
}

// runProbe runs a probe the way the kubelet's prober does: the first
// attempt initialDelaySeconds after the container started, then one every
// periodSeconds, each bounded by timeoutSeconds. With fast, it is tried
// at short intervals until it first succeeds, for at most a period, its
// failures meanwhile unreported (see fastFirstSuccess). report is called
// whenever the thresholded result changes; when it returns false the
// probing stops (a liveness or startup probe has done its job). runProbe
// returns when ctx ends or report says stop.
func runProbe(ctx context.Context, clk clock.WithTicker, p *corev1.Probe, started time.Time, fast bool, do probeFunc, report func(ok bool, msg string) bool) {
	initialDelay, period, timeout := probeTimes(p)
	if wait := started.Add(initialDelay).Sub(clk.Now()); wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(wait):
		}
	}
	t := newProbeTracker(p)
	if fast {
		deadline := clk.Now().Add(period)
		for interval := firstSuccessMinInterval; ; interval = min(2*interval, firstSuccessMaxInterval) {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			ok, msg := do(pctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if ok {
				if changed, result := t.observe(true); changed && !report(result, msg) {
					return
				}
				break
			}
			if !clk.Now().Add(interval).Before(deadline) {
				break // the regular pace from here, failures counted
			}
			select {
			case <-ctx.Done():
				return
			case <-clk.After(interval):
			}
		}
	}
	ticker := clk.NewTicker(period)
	defer ticker.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		ok, msg := do(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if changed, result := t.observe(ok); changed {
			if !report(result, msg) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// probeTarget is what probes of one container need to know.
type probeTarget struct {
	podIP string
	netns string
	ports []corev1.ContainerPort
	// pid is the container's process, whose mount and UTS namespaces exec
	// handlers run in; zero runs them in the node's (unit tests).
	pid int
	// cgroup is the container's cgroup, which exec handlers run in;
	// empty: none.
	cgroup string
	// env, dir, uid, gid, groups and privileges are the container's, for
	// exec probes.
	env        []string
	dir        string
	uid, gid   *int64
	groups     []int64
	privileges containerinit.Privileges
}

// prober runs probe and lifecycle handlers: HTTP and TCP from the host to
// the pod's IP (as the kubelet does), exec inside the pod's network
// namespace with the container's environment and user.
type prober struct {
	runner runner
	client *http.Client
}

func newProber(r runner) *prober {
	return &prober{
		runner: r,
		client: &http.Client{
			// A probe measures the container, not a redirect target; the
			// kubelet also counts a 3xx as success.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				DisableKeepAlives: true,
				// HTTPS probes do not verify the pod's certificate, as
				// the kubelet's do not: pods serve whatever they have.
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true},

				// Probes reach pods directly, never through a proxy.
				Proxy: nil,
			},
		},
	}
}

// handler is the common shape of probe and lifecycle handlers.
type handler struct {
	exec    *corev1.ExecAction
	httpGet *corev1.HTTPGetAction
	tcp     *corev1.TCPSocketAction
	grpc    *corev1.GRPCAction
	sleep   *corev1.SleepAction
}

func probeHandler(h corev1.ProbeHandler) handler {
	return handler{exec: h.Exec, httpGet: h.HTTPGet, tcp: h.TCPSocket, grpc: h.GRPC}
}

func lifecycleHandler(h *corev1.LifecycleHandler) handler {
	return handler{exec: h.Exec, httpGet: h.HTTPGet, tcp: h.TCPSocket, sleep: h.Sleep}
}

// run runs h once against target within ctx's deadline.
func (pr *prober) run(ctx context.Context, h handler, target probeTarget) (bool, string) {
	switch {
	case h.httpGet != nil:
		return pr.http(ctx, h.httpGet, target)
	case h.tcp != nil:
		port, err := resolvePort(h.tcp.Port, target.ports)
		if err != nil {
			return false, err.Error()
		}
		host := h.tcp.Host
		if host == "" {
			host = target.podIP
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		_ = c.Close()
		return true, ""
	case h.exec != nil:
		return pr.exec(ctx, h.exec.Command, target)
	case h.sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.sleep.Seconds) * time.Second):
		}
		return true, ""
	case h.grpc != nil:
		return false, "gRPC probes are not supported by the process node"
	}
	return false, "the probe names no handler"
}

func (pr *prober) http(ctx context.Context, a *corev1.HTTPGetAction, target probeTarget) (bool, string) {
	port, err := resolvePort(a.Port, target.ports)
	if err != nil {
		return false, err.Error()
	}
	host := a.Host
	if host == "" {
		host = target.podIP
	}
	scheme := strings.ToLower(string(a.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	path := a.Path
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if ref, err := url.Parse(path); err == nil {
		u = u.ResolveReference(ref)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range a.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := pr.client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

func (pr *prober) exec(ctx context.Context, command []string, target probeTarget) (bool, string) {
	if len(command) == 0 {
		return false, "exec probe has no command"
	}
	// Inside the container, the command is found in the container's
	// filesystem (/ko-app/<name> included) by the container init.
	path := command[0]
	if target.pid == 0 {
		var err error
		if path, _, err = entrypoint(image{}, command, nil, containerinit.LookupEnv(target.env, "PATH")); err != nil {
			return false, err.Error()
		}
	}
	var out bytes.Buffer
	w := &limitedWriter{w: &out, n: 10 << 10}
	p, err := pr.runner.start(processSpec{
		path: path, args: command, env: target.env, dir: target.dir,
		uid: target.uid, gid: target.gid, groups: target.groups, privileges: target.privileges,
		stdout: w, stderr: w, netns: target.netns, enterPID: target.pid, cgroup: target.cgroup,
	})
	if err != nil {
		return false, err.Error()
	}
	select {
	case <-p.done():
	case <-ctx.Done():
		_ = p.signal(syscall.SIGKILL)
		<-p.done()
		return false, fmt.Sprintf("command %q timed out", strings.Join(command, " "))
	}
	if code := p.exitCode(); code != 0 {
		return false, fmt.Sprintf("command %q exited with %d: %s", strings.Join(command, " "), code, strings.TrimSpace(out.String()))
	}
	return true, ""
}

// resolvePort turns a probe's port (a number or the name of a container
// port) into a number.
func resolvePort(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("the container has no port named %q", p.StrVal)
}

// limitedWriter keeps the first n bytes written and drops the rest, so a
// chatty exec probe cannot grow the node's memory.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		if len(b) > room {
			l.w.Write(b[:room])
		} else {
			l.w.Write(b)
		}
	}
	return len(b), nil
}
