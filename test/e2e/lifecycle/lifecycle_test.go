//go:build e2e

package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/commands/local"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/controlplane/controlplanetest"
	fwlocal "flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/nodetest"
	"flywheel.dev/pkg/repo"
)

// The node's default address plan, which fw local up uses.
var (
	podCIDR     = netip.MustParsePrefix("10.244.0.0/16")
	nodeIP      = podCIDR.Addr().Next()
	serviceCIDR = netip.MustParsePrefix(controlplane.DefaultServiceClusterIPRange)
)

const (
	// upTimeout bounds fw local up until its state says ready; on a cold
	// build cache the node compiles every component first.
	upTimeout = 10 * time.Minute
	// podTimeout bounds a pod's start; the first builds its ko:// image.
	podTimeout = 3 * time.Minute
	// downTimeout bounds fw local down and the exit of fw local up.
	downTimeout = 90 * time.Second
	// appImage is the node's test server, built from source by the node.
	appImage = "ko://" + nodetest.ServerImportPath
)

// TestUpDeployDown runs fw local up, deploys a Deployment and a Service,
// reaches the pod, reads status and logs, and checks that fw local down
// stops fw local up and that nothing it made is left on the host; then
// that fw local up again brings back the cluster, its pod running anew,
// and that fw local down --purge deletes it.
func TestUpDeployDown(t *testing.T) {
	u := startUp(t)

	// A second fw local up with the same data directory refuses, naming
	// the one that runs.
	out, err := u.fw(t, "local", "up", "--sample", "", "--data-dir", u.dataDir, "--gateway-address", "127.0.0.1:0")
	if want := fmt.Sprintf("Flywheel is already up (pid %d)", u.cmd.Process.Pid); err == nil || !strings.Contains(out, want) {
		t.Errorf("a second fw local up: %v\n%s\nwant a refusal saying %q", err, out, want)
	}

	pod := deploy(t, u)
	status, err := u.fw(t, "local", "status", "--data-dir", u.dataDir)
	if err != nil {
		t.Fatalf("fw local status: %v\n%s", err, status)
	}
	t.Logf("fw local status:\n%s", status)
	for _, want := range []string{
		"Flywheel is up (pid " + strconv.Itoa(u.cmd.Process.Pid) + ")",
		"ready",
		pod.Name, pod.Status.PodIP, "Running",
		"flywheel-local",
		// The cluster's networking, as config/local runs it.
		"kube-system/daemonset/kube-proxy", "kube-system/deployment/coredns",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("fw local status does not show %q", want)
		}
	}
	var s local.Status
	if err := json.Unmarshal([]byte(u.mustFw(t, "local", "status", "--data-dir", u.dataDir, "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Components {
		if !c.Running || (c.Address != "" && !c.Answering) {
			t.Errorf("fw local status -o json: component %s is not serving: %+v", c.Name, c)
		}
	}

	// The container's log comes through the API server from the node's
	// kubelet API.
	if logs := u.mustFw(t, "local", "logs", "pod/"+pod.Name, "-n", pod.Namespace, "--data-dir", u.dataDir); !strings.Contains(logs, "serving on :8080") {
		t.Errorf("fw local logs pod/%s = %q, want the server's first line", pod.Name, logs)
	}
	// kube-proxy's log comes from its DaemonSet's pod in kube-system.
	if logs := u.mustFw(t, "local", "logs", "kube-proxy", "--data-dir", u.dataDir); !strings.Contains(logs, "Proxier") {
		t.Errorf("fw local logs kube-proxy = %q, want kube-proxy's start-up lines naming its proxier", logs)
	}
	if logs := u.mustFw(t, "local", "logs", "kube-apiserver", "--tail", "3", "--data-dir", u.dataDir); strings.Count(logs, "\n") != 3 {
		t.Errorf("fw local logs kube-apiserver --tail 3 printed %d lines:\n%s", strings.Count(logs, "\n"), logs)
	}
	// The controller runs as a pod: its log comes from it through the
	// API server. knative.dev/pkg logs JSON lines naming the component's
	// logger.
	if logs, err := u.fw(t, "local", "logs", "controller", "--data-dir", u.dataDir); err != nil || !strings.Contains(logs, `"logger":"controller`) {
		t.Errorf("fw local logs controller: %v\n%s", err, logs)
	}

	before := u.snapshot(t)
	down := u.mustFw(t, "local", "down", "--data-dir", u.dataDir)
	t.Logf("fw local down:\n%s", down)
	if !strings.Contains(down, "Stopped Flywheel (pid") {
		t.Errorf("fw local down did not say it stopped fw local up:\n%s", down)
	}
	select {
	case <-u.exited:
	case <-time.After(downTimeout):
		t.Fatal("fw local up still runs after fw local down returned")
	}
	if code := u.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("fw local up exited with %d after fw local down; its output:\n%s", code, u.output())
	}
	checkClean(t, before)

	if again := u.mustFw(t, "local", "down", "--data-dir", u.dataDir); !strings.Contains(again, "not running locally") {
		t.Errorf("a second fw local down printed %q, want it to say nothing runs", again)
	}
	if st := u.mustFw(t, "local", "status", "--data-dir", u.dataDir); !strings.Contains(st, "not running locally") {
		t.Errorf("fw local status after down printed %q", st)
	}

	// fw local up again in the same data directory brings back what was
	// made: the Deployment and the Service, their pod started anew.
	secondUp := time.Now()
	u = u.again(t)
	if resumed := u.output(); !strings.Contains(resumed, "Resuming the cluster kept in") {
		t.Errorf("the second fw local up did not say it resumes the cluster:\n%s", resumed)
	}
	restarted := waitWebServing(t, u)
	if restarted.UID != pod.UID {
		t.Errorf("the pod after fw local up again is %s (UID %s), want %s (UID %s) started anew", restarted.Name, restarted.UID, pod.Name, pod.UID)
	}
	// Its status is this run's, not the one kept from before: a kept
	// Ready would have let Services and waits count a pod that did not
	// run (the node marks such pods NodeRestarted first).
	if running := restarted.Status.ContainerStatuses[0].State.Running; running == nil || running.StartedAt.Time.Before(secondUp.Truncate(time.Second)) {
		t.Errorf("the pod's container state after fw local up again = %+v, want running since %v", restarted.Status.ContainerStatuses[0].State, secondUp)
	}

	// --purge stops it and deletes the cluster, saying what it deletes.
	purged := u.mustFw(t, "local", "down", "--purge", "--data-dir", u.dataDir)
	t.Logf("fw local down --purge:\n%s", purged)
	for _, want := range []string{"Stopped Flywheel (pid", "Deleting the local cluster kept in", "cluster: etcd's data"} {
		if !strings.Contains(purged, want) {
			t.Errorf("fw local down --purge does not say %q", want)
		}
	}
	if fwlocal.HasCluster(u.dataDir) {
		t.Errorf("the cluster is still in %s after fw local down --purge", u.dataDir)
	}
}

// TestDownAfterCrash kills fw local up with SIGKILL, so that it cannot
// clean up, and checks that fw local down removes what it left, and that
// the cluster, its etcd killed too as in a power cut, comes back with the
// next fw local up.
func TestDownAfterCrash(t *testing.T) {
	u := startUp(t)
	pod := deploy(t, u)
	before := u.snapshot(t)

	if err := u.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-u.exited
	st := u.mustFw(t, "local", "status", "--data-dir", u.dataDir)
	if !strings.Contains(st, "exited without cleaning up") {
		t.Errorf("fw local status after a crash printed %q", st)
	}
	down := u.mustFw(t, "local", "down", "--data-dir", u.dataDir)
	t.Logf("fw local down after SIGKILL:\n%s", down)
	for _, want := range []string{"is no longer running", "Swept the node's pods"} {
		if !strings.Contains(down, want) {
			t.Errorf("fw local down after a crash does not say %q", want)
		}
	}
	checkClean(t, before)

	u = u.again(t)
	if again := waitWebServing(t, u); again.UID != pod.UID {
		t.Errorf("after the crash, the pod is %s (UID %s), want %s (UID %s) started anew", again.Name, again.UID, pod.Name, pod.UID)
	}
}

// upProcess is a fw local up running as a child of the test.
type upProcess struct {
	fwBin           string
	root            string
	dataDir         string
	controlPlaneBin string
	// args are more flags for fw local up, after the test's own.
	args   []string
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
}

// startUp builds fw, runs fw local up (with args) in a temporary data
// directory and waits until its state says it is ready. Cleanup stops it and sweeps,
// whatever happened.
func startUp(t *testing.T, args ...string) *upProcess {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("fw local up needs root")
	}
	bin, err := controlplanetest.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	u := &upProcess{fwBin: filepath.Join(tmp, "fw"), root: root, dataDir: filepath.Join(tmp, "data"), controlPlaneBin: bin, args: args}
	build := exec.Command("go", "build", "-o", u.fwBin, "./cmd/fw")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building fw: %v\n%s", err, b)
	}
	u.start(t)
	return u
}

// again runs another fw local up in u's data directory, once u has
// stopped, as a user does after fw local down.
func (u *upProcess) again(t *testing.T) *upProcess {
	t.Helper()
	next := &upProcess{fwBin: u.fwBin, root: u.root, dataDir: u.dataDir, controlPlaneBin: u.controlPlaneBin}
	next.start(t)
	return next
}

// start runs fw local up and waits until its state says it is ready.
// Cleanup stops it and sweeps, whatever happened.
func (u *upProcess) start(t *testing.T) {
	t.Helper()
	u.exited = make(chan struct{})
	var err error
	if u.out, err = os.CreateTemp(filepath.Dir(u.dataDir), "up-*.out"); err != nil {
		t.Fatal(err)
	}
	u.cmd = exec.Command(u.fwBin, append([]string{"local", "up", "--sample", "", "--data-dir", u.dataDir,
		"--gateway-address", "127.0.0.1:" + strconv.Itoa(freePortPair(t)), "--controlplane-bin", u.controlPlaneBin}, u.args...)...)
	u.cmd.Dir = u.root // the node builds ko:// images from the repository
	u.cmd.Stdout, u.cmd.Stderr = u.out, u.out
	// Should the test binary die, fw local up is told to stop and cleans
	// up after itself.
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = u.cmd.Wait(); close(u.exited) }()
	t.Cleanup(func() { u.cleanup(t) })

	err = wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, upTimeout, true, func(context.Context) (bool, error) {
		select {
		case <-u.exited:
			return false, errors.New("fw local up exited")
		default:
		}
		st, err := fwlocal.ReadState(u.dataDir)
		return err == nil && st.Ready, nil
	})
	if err != nil {
		t.Fatalf("waiting for fw local up: %v; its output:\n%s", err, u.output())
	}
	t.Logf("fw local up (pid %d) ready in %v", u.cmd.Process.Pid, time.Since(start).Round(time.Millisecond))
}

// cleanup stops fw local up and removes what it made, even when the test
// failed half-way: fw local down, then, should that fail, the sweeps.
func (u *upProcess) cleanup(t *testing.T) {
	select {
	case <-u.exited:
	default:
		if out, err := u.fw(t, "local", "down", "--data-dir", u.dataDir); err != nil {
			t.Errorf("cleanup: fw local down: %v\n%s", err, out)
		}
		select {
		case <-u.exited:
		case <-time.After(downTimeout):
			t.Errorf("cleanup: fw local up (pid %d) still runs; killing it", u.cmd.Process.Pid)
			_ = u.cmd.Process.Kill()
			<-u.exited
		}
	}
	if err := fwlocal.Down(context.Background(), u.dataDir, downTimeout, io.Discard); err != nil && !errors.Is(err, fwlocal.ErrNoState) {
		t.Errorf("cleanup: %v", err)
	}
	if err := node.Sweep(filepath.Join(u.dataDir, "node")); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	fwlocal.SweepStaleSandboxes()
	_ = u.out.Close()
	if t.Failed() {
		t.Logf("fw local up printed:\n%s", u.output())
	}
}

func (u *upProcess) output() string {
	b, _ := os.ReadFile(u.out.Name())
	return string(b)
}

// fw runs the fw binary and returns what it printed.
func (u *upProcess) fw(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*downTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.fwBin, args...)
	cmd.Dir = u.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (u *upProcess) mustFw(t *testing.T, args ...string) string {
	t.Helper()
	out, err := u.fw(t, args...)
	if err != nil {
		t.Fatalf("fw %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (u *upProcess) kube(t *testing.T) kubernetes.Interface {
	t.Helper()
	st, err := fwlocal.ReadState(u.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// deploy creates a Deployment of the node's test server and a Service for
// it, waits until its pod is Ready and listed in the Service's
// EndpointSlice, and reaches it from the host at its pod IP.
func deploy(t *testing.T, u *upProcess) *corev1.Pod {
	t.Helper()
	ctx := t.Context()
	kube := u.kube(t)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: metav1.NamespaceDefault},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{
						Name:  "server",
						Image: appImage,
						Env: []corev1.EnvVar{{Name: "PORT", Value: "8080"}, {
							Name:      "POD_NAME",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
						}},
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	if _, err := kube.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: d.Namespace},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := kube.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return waitWebServing(t, u)
}

// waitWebServing waits until the pod of deploy's Deployment is Ready and
// listed in its Service's EndpointSlice, and reaches it from the host at
// its pod IP.
func waitWebServing(t *testing.T, u *upProcess) *corev1.Pod {
	t.Helper()
	ctx := t.Context()
	kube := u.kube(t)
	var pod *corev1.Pod
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, podTimeout, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			last = fmt.Sprintf("pod %s: %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					pod = p
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the Deployment's pod to be Ready: %v (last: %s)", err, last)
	}

	// The EndpointSlice controller (kube-controller-manager) puts the
	// ready pod behind the Service.
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		slices, err := kube.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
		if err != nil {
			return false, nil
		}
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if len(e.Addresses) > 0 && e.Addresses[0] == pod.Status.PodIP && ptr.Deref(e.Conditions.Ready, false) {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("the Service's EndpointSlice never listed the pod at %s: %v", pod.Status.PodIP, err)
	}

	url := "http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + "/"
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if want := "hello from " + pod.Name; resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != want {
		t.Errorf("GET %s = %s %q, want 200 %q", url, resp.Status, body, want)
	}
	return pod
}

// hostState is what a running local cluster holds on the host, to be
// checked for after fw local down.
type hostState struct {
	dataDir string
	state   *fwlocal.State
	pods    []types.UID
	ports   []string
}

// snapshot records what the running cluster made: its processes (from
// its state), its pods' UIDs, and the addresses it listens on.
func (u *upProcess) snapshot(t *testing.T) hostState {
	t.Helper()
	st, err := fwlocal.ReadState(u.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	h := hostState{dataDir: u.dataDir, state: st}
	pods, err := u.kube(t).CoreV1().Pods(metav1.NamespaceAll).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		h.pods = append(h.pods, p.UID)
	}
	if len(h.pods) == 0 {
		t.Fatal("no pods to check for after fw local down")
	}
	for _, c := range st.Components {
		if c.Address != "" {
			h.ports = append(h.ports, c.Address)
		}
	}
	h.ports = append(h.ports, st.GatewayAddress)
	// Flywheel's own components run as pods of config/core's and
	// config/eventing's workloads, kube-proxy and CoreDNS as
	// config/local's, whose pods the checks above cover.
	var asPods []string
	for _, c := range st.Components {
		if c.AsPods() {
			asPods = append(asPods, c.WorkloadNamespace()+"/"+c.Workload())
		}
	}
	slices.Sort(asPods)
	want := []string{
		"flywheel-system/deployment/flywheel-activator", "flywheel-system/deployment/flywheel-autoscaler",
		"flywheel-system/deployment/flywheel-broker-dispatcher", "flywheel-system/deployment/flywheel-broker-ingress",
		"flywheel-system/deployment/flywheel-controller", "flywheel-system/deployment/flywheel-gateway",
		"flywheel-system/deployment/flywheel-pingsource-adapter", "flywheel-system/deployment/flywheel-webhook",
		"flywheel-system/statefulset/flywheel-nats",
		"kube-system/daemonset/kube-proxy", "kube-system/deployment/coredns", "kube-system/deployment/metrics-server",
		"kube-system/deployment/vpa-recommender",
	}
	if !slices.Equal(asPods, want) {
		t.Errorf("components recorded as workloads = %v, want %v", asPods, want)
	}
	return h
}

// checkClean fails the test for anything of h still on the host.
func checkClean(t *testing.T, h hostState) {
	t.Helper()
	var left []string
	if h.state.Owner.Running() {
		left = append(left, fmt.Sprintf("fw local up (pid %d)", h.state.Owner.PID))
	}
	for _, c := range h.state.Components {
		if !c.InProcess && c.Process.Running() {
			left = append(left, fmt.Sprintf("process %s (pid %d)", c.Name, c.Process.PID))
		}
	}
	// The pods' namespaces, veths, mounts and cgroups; the node's address,
	// routes into the pod range and its rules.
	left = append(left, nodetest.Leftovers(podCIDR, nodeIP, h.pods)...)
	for _, sb := range h.state.Sandboxes {
		if _, err := os.Stat(filepath.Join("/var/run/netns", sb.Netns)); err == nil {
			left = append(left, "network namespace "+sb.Netns)
		}
		if _, err := netlink.LinkByName(sb.HostLink); err == nil {
			left = append(left, "link "+sb.HostLink)
		}
	}
	// Only this cluster's sandboxes: their names carry its pid. Other
	// processes on the host may have sandboxes of their own.
	prefix := fmt.Sprintf("fwsb-%d-", h.state.Owner.PID)
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			left = append(left, "network namespace "+e.Name())
		}
	}
	routes, _ := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	for _, r := range routes {
		if r.Dst != nil && r.Table != unix.RT_TABLE_LOCAL && r.Dst.String() == serviceCIDR.String() {
			left = append(left, "route "+r.String())
		}
	}
	rules, _ := netlink.RuleList(netlink.FAMILY_V4)
	for _, r := range rules {
		if r.Dst != nil && r.Src != nil && r.Src.String() == podCIDR.String() {
			left = append(left, fmt.Sprintf("rule %d from %s to %s", r.Priority, r.Src, r.Dst))
		}
	}
	// kube-proxy's nftables table and iptables chains.
	left = append(left, fwlocal.KubeProxyLeftovers()...)
	// The node makes no iptables rules; should one appear, it names the
	// pod range or a pod's veth.
	if out, err := exec.Command("iptables-save").Output(); err == nil {
		for line := range strings.Lines(string(out)) {
			if strings.Contains(line, "10.244.") || strings.Contains(line, "fwp") || strings.Contains(line, "fwsb") {
				left = append(left, "iptables "+strings.TrimSpace(line))
			}
		}
	}
	for _, addr := range h.ports {
		// Only addresses still on the host: a removed one (the node's,
		// a sandbox's, reported above if left) would be dialled through
		// the default route, off the machine.
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !fwlocal.OnThisHost(ip) {
			continue
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			left = append(left, "listener on "+addr)
		}
	}
	if _, err := os.Stat(fwlocal.StatePath(h.dataDir)); !errors.Is(err, os.ErrNotExist) {
		left = append(left, "state file "+fwlocal.StatePath(h.dataDir))
	}
	if d := h.state.ControlPlaneTempDir; d != "" {
		if _, err := os.Stat(d); err == nil {
			left = append(left, "control plane directory "+d)
		}
	}
	if len(left) > 0 {
		t.Errorf("left on the host after fw local down:\n  %s", strings.Join(left, "\n  "))
	}
}

// freePortPair returns a port that is free on 127.0.0.1 with the next one
// free too: the gateway serves the cluster-local Gateway on port+1.
func freePortPair(t *testing.T) int {
	t.Helper()
	port, err := controlplane.FreeConsecutivePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	return port
}
