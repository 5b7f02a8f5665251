package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	fwwait "flywheel.dev/pkg/commands/wait"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/controlplane/controlplanetest"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/imagetest"
	"flywheel.dev/pkg/reconciler/revision/resources/names"
	"flywheel.dev/test/bench/internal/benchkit"
)

// runConfig is everything `run` was asked to do.
type runConfig struct {
	ColdStarts int `json:"coldStarts"`
	Steps      int `json:"steps"`
	// StepClients is the load step's concurrency.
	StepClients int `json:"stepClients"`
	// StepBurstCapacity is the load step Revision's target-burst-capacity
	// annotation; empty for the default.
	StepBurstCapacity string `json:"stepBurstCapacity,omitempty"`
	WorkDir           string `json:"workDir"`
	// ColdRegistryImage runs the cold start Revision from a registry
	// image (the sample app, static, alone on an empty base, in a
	// registry on loopback) instead of its ko:// build.
	ColdRegistryImage bool `json:"coldRegistryImage,omitempty"`
	// ColdImage is the cold start Revision's image.
	ColdImage string `json:"coldImage"`

	ControlPlaneBin string        `json:"-"`
	Out             string        `json:"-"`
	Timeout         time.Duration `json:"-"`
}

// results is what results.json holds.
type results struct {
	Config  runConfig        `json:"config"`
	Machine benchkit.Machine `json:"machine"`
	LoadAvg string           `json:"loadAvg"`
	// ColdStarts are request → first byte for a Revision at zero.
	ColdStarts []time.Duration `json:"coldStarts"`
	// ColdStartHops are, for each cold start, when each of its hops was
	// seen (see coldHops).
	ColdStartHops []hopTimes `json:"coldStartHops"`
	Steps         []step     `json:"steps"`
	Elapsed       string     `json:"elapsed"`
}

// step is one load step on an idle Revision at one pod.
type step struct {
	// Decision is when the Deployment first asked for more pods: the
	// autoscaler's decision, written through the scale subresource.
	Decision time.Duration `json:"decision"`
	// Serving is when a second pod was first ready.
	Serving time.Duration `json:"serving"`
	// Pods is the most pods asked for during the step.
	Pods int32 `json:"pods"`
}

// Images of the two Revisions: the sample app for cold starts (the
// smallest app there is), and a 50 ms app for load.
const (
	coldImage = "ko://flywheel.dev/examples/hello"
	stepImage = "ko://flywheel.dev/test/e2e/testdata/sleeper"
)

// benchNamespace holds the benchmark's Services.
const benchNamespace = "bench"

func runMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg runConfig
	fs.StringVar(&cfg.Out, "out", "", "directory for results.json, results.md and the components' logs; a temporary one if empty")
	fs.StringVar(&cfg.ControlPlaneBin, "controlplane-bin", "", "directory holding etcd, kube-apiserver and kube-controller-manager (default: $FLYWHEEL_CONTROLPLANE_BIN)")
	fs.StringVar(&cfg.WorkDir, "work-dir", filepath.Join(os.TempDir(), "flywheel-bench-autoscaling"), "the cluster's work directory; swept and emptied first")
	fs.IntVar(&cfg.ColdStarts, "cold-starts", 20, "cold starts to measure, one after the other")
	fs.IntVar(&cfg.Steps, "steps", 5, "load steps to measure, one after the other")
	fs.IntVar(&cfg.StepClients, "step-clients", 50, "concurrent clients of a load step")
	fs.StringVar(&cfg.StepBurstCapacity, "step-burst-capacity", "", "the load step Revision's target-burst-capacity annotation; empty for config-autoscaler's default, which keeps the activator in its path (\"0\": only at zero pods)")
	fs.BoolVar(&cfg.ColdRegistryImage, "cold-registry-image", false, "run the cold start Revision from a registry image of the sample app (pushed to a registry the harness serves on loopback) instead of "+coldImage)
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.ColdStarts < 0 || cfg.Steps < 0 || cfg.StepClients < 1 {
		return errors.New("--cold-starts and --steps must be 0 or more, --step-clients at least 1")
	}
	if os.Geteuid() != 0 {
		return errors.New("the process node needs root: run as root, e.g. through hack/bench-autoscaling.sh")
	}
	var err error
	if cfg.ControlPlaneBin == "" {
		if cfg.ControlPlaneBin, err = controlplanetest.FindBinDir(); err != nil {
			return err
		}
	}
	if cfg.Out == "" {
		if cfg.Out, err = os.MkdirTemp("", "bench-autoscaling-"); err != nil {
			return err
		}
	}
	nodeDir := filepath.Join(cfg.WorkDir, "node")
	if err := node.Sweep(nodeDir); err != nil {
		return fmt.Errorf("sweeping what an earlier run left in %s: %w", cfg.WorkDir, err)
	}
	if err := os.RemoveAll(cfg.WorkDir); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	began := time.Now()
	benchkit.Progress("bringing the local cluster up")
	c, err := local.Up(ctx, local.Options{
		ControlPlane:   controlplane.Options{BinDir: cfg.ControlPlaneBin, ControllerManager: true},
		Node:           true,
		GatewayAddress: "127.0.0.1:0",
		WorkDir:        cfg.WorkDir,
	})
	if err != nil {
		return err
	}
	defer func() {
		c.Stop()
		_ = node.Sweep(nodeDir)
		keepLogs(cfg.WorkDir, filepath.Join(cfg.Out, "logs"))
		_ = os.RemoveAll(cfg.WorkDir)
	}()
	cfg.ColdImage = coldImage
	if cfg.ColdRegistryImage {
		host, stop, err := imagetest.Serve("", "")
		if err != nil {
			return err
		}
		defer stop()
		if cfg.ColdImage, err = pushSampleImage(host); err != nil {
			return err
		}
	}
	b := &bench{cfg: cfg, cluster: c, serving: versioned.NewForConfigOrDie(c.RESTConfig())}
	if err := b.setUp(ctx); err != nil {
		return err
	}
	res := results{Config: cfg, Machine: benchkit.ReadMachine(), LoadAvg: benchkit.LoadAverage()}
	if cfg.ColdStarts > 0 {
		if res.ColdStarts, res.ColdStartHops, err = b.coldStarts(ctx); err != nil {
			return fmt.Errorf("cold starts: %w", err)
		}
	}
	if cfg.Steps > 0 {
		if res.Steps, err = b.loadSteps(ctx); err != nil {
			return fmt.Errorf("load steps: %w", err)
		}
	}
	res.Elapsed = time.Since(began).Round(time.Second).String()
	return benchkit.WriteResults(cfg.Out, res.markdown(), res, res.Elapsed)
}

// bench is one run on one cluster.
type bench struct {
	cfg     runConfig
	cluster *local.Flywheel
	serving versioned.Interface
}

// setUp shortens the scale-to-zero grace period to its least (6 s), so
// that a cold start comes every quarter minute rather than every minute,
// and makes the namespace.
func (b *bench) setUp(ctx context.Context) error {
	cms := b.cluster.Kube.CoreV1().ConfigMaps(local.SystemNamespace)
	cm, err := cms.Get(ctx, config.AutoscalerConfigName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data["scale-to-zero-grace-period"] = "6s"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return err
	}
	_, err = b.cluster.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{})
	return err
}

// service creates a Service and waits until it is ready; it returns its
// host and Revision.
func (b *bench) service(ctx context.Context, name, image string, annotations map[string]string) (host, rev string, err error) {
	svc := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNamespace},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec:       servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}},
		}}},
	}
	created, err := b.serving.ServingV1().Services(benchNamespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return "", "", err
	}
	ready, err := fwwait.ForServiceReady(ctx, b.serving.ServingV1(), benchNamespace, name, created.Generation, fwwait.For(5*time.Minute))
	if err != nil {
		return "", "", err
	}
	return ready.Status.URL.Host, ready.Status.LatestReadyRevisionName, nil
}

// coldStarts measures request → first byte for a Revision at zero, each
// time once the Revision is back at zero with the activator in its path,
// and when each hop of the way was seen.
func (b *bench) coldStarts(ctx context.Context) ([]time.Duration, []hopTimes, error) {
	host, rev, err := b.service(ctx, "cold", b.cfg.ColdImage, map[string]string{serving.WindowAnnotation.String(): "6s"})
	if err != nil {
		return nil, nil, err
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	w := watch(watchCtx, b.cluster.Kube, rev)
	var out []time.Duration
	var starts []coldStart
	for i := range b.cfg.ColdStarts {
		if err := b.waitAtZero(ctx, rev); err != nil {
			return out, nil, err
		}
		start := time.Now()
		w.begin(start)
		took, err := firstByte(ctx, b.cluster.GatewayAddr, host)
		if err != nil {
			return out, nil, fmt.Errorf("cold start %d: %w", i+1, err)
		}
		// The harness's watches may hear of the endpoint a little after
		// the activator's did.
		w.waitFor(ctx, hopEndpoint, 2*time.Second)
		hops, pod := w.end()
		hops[firstByteHop] = took
		starts = append(starts, coldStart{start: start, hops: hops, pod: pod, queueLog: podQueueLog(ctx, b.cluster.Kube, pod)})
		benchkit.Progress("cold start %d of %d: %v", i+1, b.cfg.ColdStarts, took.Round(time.Millisecond))
		out = append(out, took)
	}
	logHops(starts, componentLog(ctx, b.cluster.Kube, "activator"), componentLog(ctx, b.cluster.Kube, "autoscaler"), readNodeLog(b.cfg.WorkDir), rev)
	hops := make([]hopTimes, len(starts))
	for i, s := range starts {
		hops[i] = s.hops
	}
	return out, hops, nil
}

// pushSampleImage builds the sample app static and pushes it, alone on an
// empty base, to the registry at host; it returns the image.
func pushSampleImage(host string) (string, error) {
	benchkit.Progress("building the sample app and pushing it to the registry at %s", host)
	exe, err := imagetest.BuildStatic(strings.TrimPrefix(coldImage, node.KoPrefix))
	if err != nil {
		return "", err
	}
	img, err := imagetest.StaticImage("hello", exe)
	if err != nil {
		return "", err
	}
	ref := host + "/hello:v1"
	return ref, imagetest.Push(ref, img)
}

// waitAtZero waits until the Revision's Deployment asks for no pod, none
// is left, and its public Service points at the activator alone.
func (b *bench) waitAtZero(ctx context.Context, rev string) error {
	activators, err := b.addresses(ctx, local.SystemNamespace, activator.ServiceName)
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := b.cluster.Kube.AppsV1().Deployments(benchNamespace).Get(ctx, names.Deployment(rev), metav1.GetOptions{})
		if err != nil || replicas(d) != 0 || d.Status.Replicas != 0 {
			return false, nil
		}
		pods, err := b.cluster.Kube.CoreV1().Pods(benchNamespace).List(ctx, metav1.ListOptions{LabelSelector: serving.RevisionLabel.String() + "=" + rev})
		if err != nil || len(pods.Items) > 0 {
			return false, nil
		}
		public, err := b.addresses(ctx, benchNamespace, names.PublicService(rev))
		if err != nil || len(public) == 0 {
			return false, nil
		}
		for a := range public {
			if !activators[a] {
				return false, nil
			}
		}
		return true, nil
	})
}

// addresses are the endpoint addresses of a Service's EndpointSlices.
func (b *bench) addresses(ctx context.Context, ns, service string) (map[string]bool, error) {
	list, err := b.cluster.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service,
	})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				out[a] = true
			}
		}
	}
	return out, nil
}

// firstByte sends one GET for host through the gateway and returns the
// time to the response's first byte; anything but a 200 is an error.
func firstByte(ctx context.Context, gateway, host string) (time.Duration, error) {
	var first time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, "http://"+gateway+"/", nil)
	if err != nil {
		return 0, err
	}
	req.Host = host
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the gateway answered %s", resp.Status)
	}
	return first.Sub(start), nil
}

// loadSteps puts StepClients clients at once on an idle Revision held at
// one pod (min-scale 1, target 10, a 50 ms app) and measures when the
// Deployment first asks for more pods and when a second pod is ready.
func (b *bench) loadSteps(ctx context.Context) ([]step, error) {
	annotations := map[string]string{
		serving.MinScaleAnnotation.String(): "1",
		serving.TargetAnnotation.String():   "10",
		serving.WindowAnnotation.String():   "6s",
	}
	if b.cfg.StepBurstCapacity != "" {
		annotations[serving.TargetBurstCapacityAnnotation.String()] = b.cfg.StepBurstCapacity
	}
	host, rev, err := b.service(ctx, "step", stepImage, annotations)
	if err != nil {
		return nil, err
	}
	deployment := names.Deployment(rev)
	var out []step
	for i := range b.cfg.Steps {
		if err := b.waitAtOne(ctx, deployment); err != nil {
			return out, err
		}
		s, err := b.loadStep(ctx, host, deployment)
		if err != nil {
			return out, fmt.Errorf("step %d: %w", i+1, err)
		}
		benchkit.Progress("load step %d of %d: decision after %v, a new pod ready after %v, %d pods asked for",
			i+1, b.cfg.Steps, s.Decision.Round(time.Millisecond), s.Serving.Round(time.Millisecond), s.Pods)
		out = append(out, s)
	}
	return out, nil
}

// waitAtOne waits until the Deployment asks for one pod and has one
// ready, and then a stable window more, so the decider's windows hold
// no load from before.
func (b *bench) waitAtOne(ctx context.Context, deployment string) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := b.cluster.Kube.AppsV1().Deployments(benchNamespace).Get(ctx, deployment, metav1.GetOptions{})
		return err == nil && replicas(d) == 1 && d.Status.ReadyReplicas == 1 && d.Status.Replicas == 1, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be back at one pod: %w", deployment, err)
	}
	select {
	case <-time.After(7 * time.Second):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stepLimit bounds a step's load.
const stepLimit = 20 * time.Second

func (b *bench) loadStep(ctx context.Context, host, deployment string) (step, error) {
	loadCtx, stop := context.WithTimeout(ctx, stepLimit)
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for range b.cfg.StepClients {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for loadCtx.Err() == nil {
				req, err := http.NewRequestWithContext(loadCtx, http.MethodGet, "http://"+b.cluster.GatewayAddr+"/", nil)
				if err != nil {
					return
				}
				req.Host = host
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	defer wg.Wait()
	var s step
	for loadCtx.Err() == nil && (s.Decision == 0 || s.Serving == 0) {
		d, err := b.cluster.Kube.AppsV1().Deployments(benchNamespace).Get(loadCtx, deployment, metav1.GetOptions{})
		if err == nil {
			now := time.Since(start)
			s.Pods = max(s.Pods, replicas(d))
			if s.Decision == 0 && replicas(d) > 1 {
				s.Decision = now
			}
			if s.Serving == 0 && d.Status.ReadyReplicas > 1 {
				s.Serving = now
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.Decision == 0 || s.Serving == 0 {
		return s, fmt.Errorf("within %v of the step: decision after %v, a new pod ready after %v (zero: not seen)", stepLimit, s.Decision, s.Serving)
	}
	return s, nil
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// keepLogs copies the work directory's log files to dir.
func keepLogs(workDir, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	entries, _ := filepath.Glob(filepath.Join(workDir, "*.log"))
	for _, e := range entries {
		if b, err := os.ReadFile(e); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(e)), b, 0o644)
		}
	}
}
