package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"flywheel.dev/pkg/apis/serving"
	gt "flywheel.dev/pkg/gateway/gatewaytest"
	"flywheel.dev/test/bench/internal/benchkit"
)

// A variant is one path from the load to the app: the proxies, or hops,
// a request crosses on the way.
type variant struct {
	name  string
	about string
	// hops are the proxies in front of the app, the one nearest the app
	// first; the load goes to the last. None means the app directly.
	hops []hop
}

// A hop is a proxy process that forwards to the next one towards the
// app. Each hop is a role in the figures, so that a path of several
// hops shows what each costs.
type hop struct {
	role string
	// start starts the hop pinned to the pod's core, forwarding to
	// target (host:port), and returns once requests for benchHost pass
	// through it to the app.
	start func(ctx context.Context, h *harness, target string, o podOptions) (*started, error)
}

// started is a running hop.
type started struct {
	proc *benchkit.Proc
	// addr is the host:port it serves requests on.
	addr string
	// profile is the URL of its CPU profile; empty unless asked for.
	profile string
}

// benchHost is the host every request is for, and the hostname of the
// gateway's route.
const benchHost = "hello.demo.example.com"

var (
	baselineHop = hop{role: "baseline", start: startBaseline}
	gatewayHop  = hop{role: "gateway", start: startGateway}
	// tracedGatewayHop is the gateway with tracing on at every request.
	tracedGatewayHop = hop{role: "gateway", start: startTracedGateway}
	activatorHop     = hop{role: "activator", start: startActivator}
)

// variants are every variant the harness knows, in report order. The
// activator's path is the gateway's with the activator between the
// gateway and the app, as a Revision in proxy mode has it.
var variants = []variant{
	{name: "direct", about: "the app with nothing in front"},
	{name: "baseline", about: "httputil.ReverseProxy + in-flight counter, the sidecar benchmark's baseline", hops: []hop{baselineHop}},
	{name: "gateway", about: "the Flywheel gateway routing the route's host to the app", hops: []hop{gatewayHop}},
	{name: "gateway+activator", about: "the gateway routing to the activator, which proxies to the app", hops: []hop{activatorHop, gatewayHop}},
	{name: "gateway-traced", about: "the gateway with tracing on: every request sampled, spans sent over OTLP/HTTP to a sink in the harness", hops: []hop{tracedGatewayHop}},
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

// hopRoles are the roles of every hop of every variant: together, the
// CPU and memory of whatever proxies a level ran.
func hopRoles() []string {
	var roles []string
	for _, v := range variants {
		for _, hp := range v.hops {
			if !slices.Contains(roles, hp.role) {
				roles = append(roles, hp.role)
			}
		}
	}
	return roles
}

// podOptions are what a variant's pod is started with.
type podOptions struct {
	app string
	// concurrency is the load's, to size the baseline's idle pool.
	concurrency int
	profile     bool
}

// pod is the app and the hops in front of it.
type pod struct {
	app  *benchkit.Proc
	hops []*started
	url  string
}

// startPod starts the app, then v's hops from the app outwards, and
// waits until a request for benchHost passes through them all.
func (h *harness) startPod(ctx context.Context, v variant, o podOptions) (*pod, error) {
	app, port, err := h.StartApp(ctx, o.app)
	if err != nil {
		return nil, err
	}
	pd := &pod{app: app}
	target := "127.0.0.1:" + strconv.Itoa(port)
	for _, hp := range v.hops {
		s, err := hp.start(ctx, h, target, o)
		if err != nil {
			h.stopPod(pd)
			return nil, fmt.Errorf("starting the %s: %w", hp.role, err)
		}
		pd.hops = append(pd.hops, s)
		target = s.addr
	}
	pd.url = "http://" + target + "/"
	outer := app
	if len(pd.hops) > 0 {
		outer = pd.hops[len(pd.hops)-1].proc
	}
	probe := benchkit.Probe{URL: "http://" + target + benchkit.HealthPath, Host: benchHost, Body: benchkit.HelloBody}
	if err := benchkit.WaitAnswer(ctx, outer, probe, 10*time.Second); err != nil {
		h.stopPod(pd)
		return nil, err
	}
	return pd, nil
}

// stopPod stops the hops from the load inwards, so that none sees the
// next one vanish under it, then the app.
func (h *harness) stopPod(pd *pod) {
	for _, s := range slices.Backward(pd.hops) {
		h.Sup.Stop(s.proc)
	}
	h.Sup.Stop(pd.app)
}

// target is what the load is sent to and watches: every request with
// the route's host, whatever the variant, so that all send the same.
func (pd *pod) target(v variant) benchkit.Target {
	t := benchkit.Target{URL: pd.url, Host: benchHost, Watch: map[string]*benchkit.Proc{"app": pd.app}}
	for i, s := range pd.hops {
		t.Watch[v.hops[i].role] = s.proc
	}
	return t
}

func startBaseline(ctx context.Context, h *harness, target string, o podOptions) (*started, error) {
	b, err := h.StartBaseline(ctx, target, o.concurrency, o.profile)
	if err != nil {
		return nil, err
	}
	return &started{proc: b.Proc, addr: b.Addr, profile: b.Profile}, nil
}

// startGateway runs fakegateway, whose one route sends benchHost to
// target, and waits until it does.
func startGateway(ctx context.Context, h *harness, target string, o podOptions) (*started, error) {
	return startFake(ctx, h, "gateway", target, o)
}

// startTracedGateway is startGateway with every request traced, its
// spans sent to the harness's sink.
func startTracedGateway(ctx context.Context, h *harness, target string, o podOptions) (*started, error) {
	endpoint, err := h.spans.Endpoint()
	if err != nil {
		return nil, err
	}
	return startFake(ctx, h, "gateway", target, o, "--trace-endpoint", endpoint)
}

// startActivator runs fakegateway as the activator, holding the route's
// Revision with its one pod at target, and waits until requests naming
// the Revision pass.
func startActivator(ctx context.Context, h *harness, target string, o podOptions) (*started, error) {
	return startFake(ctx, h, "activator", target, o)
}

// startFake runs fakegateway in role, forwarding to target, and waits
// until a request as the gateway would send it reaches the app.
func startFake(ctx context.Context, h *harness, role, target string, o podOptions, flags ...string) (*started, error) {
	ports, err := h.PickPorts(3)
	if err != nil {
		return nil, err
	}
	s := &started{addr: "127.0.0.1:" + strconv.Itoa(ports[0])}
	argv := []string{h.gatewayBin, "--role", role, "--listen", s.addr, "--admin", "127.0.0.1:" + strconv.Itoa(ports[1]),
		"--backend", target, "--host", benchHost}
	argv = append(argv, flags...)
	if o.profile {
		argv = append(argv, "--pprof", "127.0.0.1:"+strconv.Itoa(ports[2]))
		s.profile = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile", ports[2])
	}
	if s.proc, err = h.Sup.Start(role, benchkit.StartOptions{CPU: h.PodCPU}, argv...); err != nil {
		return nil, err
	}
	// It serves once it has read the fake API server's objects: until
	// then it answers 503.
	probe := benchkit.Probe{URL: "http://" + s.addr + benchkit.HealthPath, Host: benchHost, Body: benchkit.HelloBody, Header: revisionHeaders}
	if err := benchkit.WaitAnswer(ctx, s.proc, probe, 20*time.Second); err != nil {
		h.Sup.Stop(s.proc)
		return nil, err
	}
	return s, nil
}

// revisionHeaders are the headers the gateway's route sets, which the
// activator needs on a request sent to it directly.
var revisionHeaders = http.Header{
	serving.RevisionHeader:  {"hello-00001"}, // fakegateway's benchRevision
	serving.NamespaceHeader: {gt.Namespace},
}
