//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/vishvananda/netlink"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/local"
	"flywheel.dev/pkg/node"
	"flywheel.dev/pkg/node/nodetest"
)

// TestNode runs the process node against the shared cluster: pods with
// nodeName set (no scheduler runs) become processes in network namespaces,
// with probes, restarts, logs through the API server, images from paths,
// ko:// import paths and the images ConfigMap, and leave nothing behind.
func TestNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestNode needs root: the node creates network namespaces, veths, routes and rules")
	}
	server := buildTestServer(t)
	tn := startNode(t)
	ns := newNamespace(t, "node")
	waitDefaultServiceAccount(t, ns)

	t.Run("a pod runs as a process with probes, restarts and logs, and deletion removes it", func(t *testing.T) {
		testPodLifecycle(t, tn, ns, server)
	})
	t.Run("pods reach each other and the node, and nothing else", func(t *testing.T) {
		testRouting(t, tn, ns, server)
	})
	t.Run("hostNetwork pods and hostPorts are reached from the host", func(t *testing.T) {
		testHostNetwork(t, tn, ns, server)
	})
	t.Run("a pod sees its volumes, its own /tmp, /dev and /etc files, and reaches the API server with its token", func(t *testing.T) {
		testPodFilesystem(t, tn, ns)
	})
	t.Run("a ko:// image is built from the module and runs", func(t *testing.T) {
		testKoImage(t, tn, ns)
	})
	t.Run("an unknown image waits until the images ConfigMap maps it", func(t *testing.T) {
		testImagesConfigMap(t, tn, ns, server)
	})
	t.Run("the node reports its pods' CPU and memory as a kubelet does, for metrics-server", func(t *testing.T) {
		testResourceUsage(t, tn, ns)
	})
	t.Run("a second node with an overlapping pod range refuses to start", func(t *testing.T) {
		second, err := node.New(node.Config{
			RESTConfig:  cluster.ControlPlane.RESTConfig(),
			NodeName:    tn.Name() + "-second",
			DataDir:     t.TempDir(),
			PodCIDR:     tn.PodCIDR().String(),
			ServiceCIDR: cluster.ControlPlane.ServiceClusterIPRange,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := second.Run(ctx); err == nil || !strings.Contains(err.Error(), "overlaps") {
			t.Errorf("Run() = %v, want a refusal naming the overlapping route", err)
		}
		if _, err := cluster.Kube.CoreV1().Nodes().Get(ctx, second.Name(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused node registered anyway (%v)", err)
		}
	})
}

// nodeHelperEnv makes the test binary run a process node (configured by
// the variable's JSON value) instead of the tests, so that a test can kill
// a node the hard way.
const nodeHelperEnv = "FLYWHEEL_TEST_NODE_HELPER"

func init() {
	if cfg := os.Getenv(nodeHelperEnv); cfg != "" {
		os.Exit(nodetest.RunHelper(cfg))
	}
}

// TestNodeSweep kills a node with SIGKILL while it runs a pod and checks
// that Sweep, given the node's data directory, removes what it left: the
// pod's namespace, veth and processes, and the node's address, routes and
// rules.
func TestNodeSweep(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestNodeSweep needs root: the node creates network namespaces, veths, routes and rules")
	}
	server := buildTestServer(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	hc := nodetest.HelperConfig{
		Kubeconfig:  cluster.ControlPlane.KubeconfigPath,
		Name:        fmt.Sprintf("fw-node-sweep-%d", pid),
		DataDir:     nodeDataDir(t, "sweep"),
		PodCIDR:     fmt.Sprintf("10.247.%d.0/24", pid%250),
		ServiceCIDR: cluster.ControlPlane.ServiceClusterIPRange,
	}
	cfg, _ := json.Marshal(hc)
	logPath := filepath.Join(t.TempDir(), "node.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nodeHelperEnv+"="+string(cfg))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	kube := cluster.Kube
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		// Whatever happened, leave the host clean.
		if err := node.Sweep(hc.DataDir); err != nil {
			t.Errorf("the final Sweep: %v", err)
		}
		_ = kube.CoreV1().Nodes().Delete(context.Background(), hc.Name, metav1.DeleteOptions{})
		_ = kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(context.Background(), hc.Name, metav1.DeleteOptions{})
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("node log:\n%s", b)
		}
	})

	ns := newNamespace(t, "node-sweep")
	waitDefaultServiceAccount(t, ns)
	waitUntil(t, time.Minute, "the node to register", func(ctx context.Context) (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, hc.Name, metav1.GetOptions{})
		return err == nil && nodetest.NodeReady(n), nil
	})
	pod := nodetest.Pod(ns, "server", hc.Name, server)
	created, err := kube.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// No node will finish the deletion: force it.
		_ = kube.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, *metav1.NewDeleteOptions(0))
	})
	running := waitPod(t, ns, pod.Name, "Running and Ready", nodetest.PodReady)
	podPID, err := strconv.Atoi(strings.TrimPrefix(running.Status.ContainerStatuses[0].ContainerID, "process://"))
	if err != nil {
		t.Fatalf("containerID %q does not name a process", running.Status.ContainerStatuses[0].ContainerID)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	netnsPath := filepath.Join("/var/run/netns", node.NetnsName(created.UID))
	if _, err := os.Stat(netnsPath); err != nil {
		t.Fatalf("the killed node's pod namespace is already gone (%v): the test shows nothing", err)
	}
	if err := node.Sweep(hc.DataDir); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	left := nodetest.Leftovers(netip.MustParsePrefix(hc.PodCIDR), netip.MustParsePrefix(hc.PodCIDR).Addr().Next(), []types.UID{created.UID})
	if nodetest.ProcessRunning(podPID) {
		left = append(left, fmt.Sprintf("the pod's process %d", podPID))
	}
	for _, p := range []string{filepath.Join(hc.DataDir, "sandboxes", string(created.UID)), nodetest.NodeCgroup(hc.Name)} {
		if _, err := os.Stat(p); p != "" && err == nil {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("left on the host after Sweep:\n%s", strings.Join(left, "\n"))
	}
}

// testNode is a running node and what the test needs to check on it.
type testNode struct {
	*node.Node
	imageCache string
	logs       *syncBuffer

	mu   sync.Mutex
	uids []types.UID // of the pods the test created
}

// created notes a pod the test created, for the final check.
func (tn *testNode) created(p *corev1.Pod) *corev1.Pod {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.uids = append(tn.uids, p.UID)
	return p
}

func startNode(t *testing.T) *testNode {
	t.Helper()
	// A /24 per test process, outside the default range, so that a
	// `fw local` (or another test binary) on the same host keeps its own.
	pid := os.Getpid()
	podCIDR := fmt.Sprintf("10.246.%d.0/24", pid%250)
	logs := &syncBuffer{}
	tn := &testNode{imageCache: t.TempDir(), logs: logs}
	name := fmt.Sprintf("fw-node-test-%d", pid)
	dataDir := nodeDataDir(t, "node")
	// Pods reach the API server on the node's address, which the node
	// relays to the API server's loopback address, as in local mode.
	apiServerURL, err := url.Parse(cluster.ControlPlane.APIServerURL)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{
		RESTConfig:        cluster.ControlPlane.RESTConfig(),
		NodeName:          name,
		DataDir:           dataDir,
		PodCIDR:           podCIDR,
		ServiceCIDR:       cluster.ControlPlane.ServiceClusterIPRange,
		ClientCAFile:      cluster.ControlPlane.CACertPath,
		ImageCacheDir:     tn.imageCache,
		APIServerTarget:   apiServerURL.Host,
		VolumeSyncPeriod:  time.Second,
		RestartBackOff:    200 * time.Millisecond,
		MaxRestartBackOff: 2 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("the node's Run: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Errorf("the node did not stop within two minutes")
		}
		assertHostClean(t, tn)
		kube := cluster.Kube
		_ = kube.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(context.Background(), name, metav1.DeleteOptions{})
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	select {
	case <-n.Ready():
	case err := <-errc:
		t.Fatalf("the node stopped before it was ready: %v\n%s", err, logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("the node was not ready within a minute\n%s", logs.String())
	}

	nodeObj, err := cluster.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Node was not registered: %v", err)
	}
	if !nodetest.NodeReady(nodeObj) {
		t.Errorf("Node %s is not Ready: %+v", name, nodeObj.Status.Conditions)
	}
	if got := nodeObj.Status.Addresses; len(got) != 1 || got[0].Type != corev1.NodeInternalIP || got[0].Address != n.IP().String() {
		t.Errorf("Node addresses %+v, want the InternalIP %s", got, n.IP())
	}
	if nodeObj.Status.Capacity.Pods().Value() != node.DefaultMaxPods || nodeObj.Status.Capacity.Cpu().IsZero() || nodeObj.Status.Capacity.Memory().IsZero() {
		t.Errorf("Node capacity %v, want the machine's CPU and memory and %d pods", nodeObj.Status.Capacity, node.DefaultMaxPods)
	}
	waitUntil(t, 30*time.Second, "the node lease", func(ctx context.Context) (bool, error) {
		l, err := cluster.Kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime != nil, nil
	})
	return tn
}

func testPodLifecycle(t *testing.T, tn *testNode, ns, server string) {
	ctx := t.Context()
	kube := cluster.Kube
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "greeting"},
		Data:       map[string]string{"greeting": "hi there"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := nodetest.Pod(ns, "server", tn.Name(), server)
	c := &pod.Spec.Containers[0]
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		corev1.EnvVar{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		corev1.EnvVar{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		corev1.EnvVar{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "greeting"}, Key: "greeting"}}},
		corev1.EnvVar{Name: "ECHO", Value: "$(POD_NAME) says $(GREETING)"},
	)
	c.LivenessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1, FailureThreshold: 2,
	}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tn.created(created)
	running := waitPod(t, ns, pod.Name, "Running and Ready", nodetest.PodReady)
	ip, err := netip.ParseAddr(running.Status.PodIP)
	if err != nil || !tn.PodCIDR().Contains(ip) || ip == tn.IP() {
		t.Fatalf("podIP %q, want a pod address in %s", running.Status.PodIP, tn.PodCIDR())
	}
	if running.Status.HostIP != tn.IP().String() {
		t.Errorf("hostIP %q, want the node's %s", running.Status.HostIP, tn.IP())
	}
	cs := running.Status.ContainerStatuses[0]
	if want := "sha256:" + fileSHA256(t, server); cs.ImageID != want || cs.Image != server {
		t.Errorf("image %q, imageID %q; want %q, %q", cs.Image, cs.ImageID, server, want)
	}

	// The host reaches the pod on its IP, and the process got its
	// environment from the downward API and the ConfigMap.
	base := "http://" + net.JoinHostPort(ip.String(), "8080")
	var info struct {
		Env map[string]string `json:"env"`
		WD  string            `json:"wd"`
	}
	getJSON(t, base+"/env", &info)
	wantEnv := map[string]string{
		"POD_NAME": pod.Name, "POD_NAMESPACE": ns, "POD_IP": ip.String(), "NODE_NAME": tn.Name(),
		"GREETING": "hi there", "ECHO": pod.Name + " says hi there", "PORT": "8080",
	}
	for k, v := range wantEnv {
		if info.Env[k] != v {
			t.Errorf("env %s=%q, want %q", k, info.Env[k], v)
		}
	}

	// The network namespace and veth exist while the pod runs.
	netnsPath := filepath.Join("/var/run/netns", node.NetnsName(created.UID))
	if _, err := os.Stat(netnsPath); err != nil {
		t.Errorf("the pod's network namespace: %v", err)
	}
	if _, err := netlink.LinkByName(node.HostLinkName(created.UID)); err != nil {
		t.Errorf("the pod's veth: %v", err)
	}

	// Logs, through the API server and the node's kubelet API.
	waitUntil(t, 10*time.Second, "the container's log through the API server", func(ctx context.Context) (bool, error) {
		b, err := kube.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "server"}).DoRaw(ctx)
		if err != nil {
			return false, nil
		}
		return strings.Contains(string(b), "serving on :8080") && strings.Contains(string(b), "stderr goes to the log too"), nil
	})

	// A killed process is restarted; its last state shows how it ended.
	pid, err := tn.ContainerPID(ns, pod.Name, "server")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the container's process %d: %v", pid, err)
	}
	restarted := waitPod(t, ns, pod.Name, "restarted after SIGKILL and Ready again", func(p *corev1.Pod) bool {
		return nodetest.PodReady(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	last := restarted.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 || last.Reason != "Error" {
		t.Errorf("lastState.terminated %+v, want exit code 137, reason Error", last)
	}
	if newPID, err := tn.ContainerPID(ns, pod.Name, "server"); err != nil || newPID == pid {
		t.Errorf("pid after the restart %d (%v), want a new process", newPID, err)
	}
	prev, err := kube.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "server", Previous: true}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(prev), "serving on :8080") {
		t.Errorf("previous log %q (%v), want the first run's output", prev, err)
	}
	tail, err := tn.Logs(ctx, ns, pod.Name, "server", node.LogOptions{Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	tailed, _ := io.ReadAll(tail)
	tail.Close()
	if string(tailed) != "stderr goes to the log too\n" {
		t.Errorf("last log line %q, want the stderr line", tailed)
	}

	// Failing liveness makes the node restart the container; failing
	// readiness would only take it out of Ready.
	fetchOK(t, base+"/fail/liveness")
	waitPod(t, ns, pod.Name, "restarted after failing its liveness probe", func(p *corev1.Pod) bool {
		return nodetest.PodReady(p) && p.Status.ContainerStatuses[0].RestartCount == 2
	})
	fetchOK(t, base+"/fail/readiness")
	waitPod(t, ns, pod.Name, "not Ready after failing its readiness probe", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && !nodetest.PodReady(p) && p.Status.ContainerStatuses[0].RestartCount == 2
	})

	// Deleting the pod ends its processes and removes its sandbox.
	pid, err = tn.ContainerPID(ns, pod.Name, "server")
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the pod to be gone from the API", func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	waitUntil(t, 10*time.Second, "the pod's sandbox and processes to be removed", func(context.Context) (bool, error) {
		return sandboxGone(created.UID, ip) && !nodetest.ProcessRunning(pid), nil
	})
}

// testPodFilesystem runs the test server from a ko:// image with a volume
// of each kind the node provides and checks what the process sees: the
// files at their mount paths (read-only where they must be, updated when
// the ConfigMap changes), a working service-account token, and the
// runtime contract's /tmp, /dev, /etc files, hostname and stdin.
func testPodFilesystem(t *testing.T, tn *testNode, ns string) {
	ctx := t.Context()
	kube := cluster.Kube
	cms := kube.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data:       map[string]string{"a": "1", "b": "2"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data:       map[string][]byte{"password": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The pod's ServiceAccount may read the namespace: its token is then
	// shown to work by listing ConfigMaps.
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "default-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	const app = "/ko-app/server"
	pod := nodetest.Pod(ns, "files", tn.Name(), node.KoPrefix+nodetest.ServerImportPath)
	pod.Labels = map[string]string{"app": "files"}
	pod.Spec.AutomountServiceAccountToken = ptrTo(true)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "settings", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "bee", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"},
			Items:                []corev1.KeyToPath{{Key: "b", Path: "nested/bee", Mode: ptrTo[int32](0o600)}}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
		{Name: "missing", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "absent", Optional: ptrTo(true)}}},
		{Name: "later", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "later"}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "memory", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		}}}},
	}
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "settings", MountPath: "/etc/settings"},
		{Name: "settings", MountPath: "/opt/a", SubPath: "a"},
		{Name: "bee", MountPath: "/etc/bee"},
		{Name: "creds", MountPath: "/var/creds"},
		{Name: "missing", MountPath: "/var/missing"},
		{Name: "later", MountPath: "/etc/later"},
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "scratch", MountPath: "/ro-scratch", ReadOnly: true},
		{Name: "memory", MountPath: "/scratch/memory"},
		{Name: "podinfo", MountPath: "/etc/podinfo"},
	}
	// An exec probe runs inside the container: /ko-app is there.
	c.StartupProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{app, "exit", "0"}}},
		PeriodSeconds: 1,
	}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tn.created(created)
	// The ConfigMap of volume "later" does not exist yet: the container
	// waits for it, as on a kubelet, and starts once it is there.
	waiting := waitPodFor(t, 3*time.Minute, ns, pod.Name, "waiting for the ConfigMap later", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ContainerCreating" && strings.Contains(w.Message, `volume "later"`)
	})
	if waiting.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s while a volume waits for its ConfigMap, want Pending", waiting.Status.Phase)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "later"},
		Data:       map[string]string{"c": "3"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := waitPodFor(t, time.Minute, ns, pod.Name, "Running and Ready", nodetest.PodReady)
	base := "http://" + net.JoinHostPort(running.Status.PodIP, "8080")
	read := func(path string) string { return fetchOK(t, base+"/read?path="+url.QueryEscape(path)) }
	write := func(path string) string {
		return strings.TrimSpace(fetchOK(t, base+"/write?path="+url.QueryEscape(path)))
	}
	stat := func(path string) (fi struct {
		Exists bool   `json:"exists"`
		Mode   string `json:"mode"`
		Link   string `json:"link"`
	}) {
		getJSON(t, base+"/stat?path="+url.QueryEscape(path), &fi)
		return fi
	}

	// Volumes at their mount paths.
	for path, want := range map[string]string{
		"/etc/settings/a":     "1",
		"/etc/settings/b":     "2",
		"/opt/a":              "1",
		"/var/creds/password": "s3cret",
		"/etc/podinfo/labels": `app="files"`,
		"/etc/podinfo/name":   "files",
		"/etc/later/c":        "3",
	} {
		if got := read(path); got != want {
			t.Errorf("%s holds %q, want %q", path, got, want)
		}
	}
	if fi := stat("/etc/bee/..data/nested/bee"); fi.Mode != "-rw-------" {
		t.Errorf("an item with mode 0600 has mode %s", fi.Mode)
	}
	// The image runs as ko's nonroot, and the file is root's, as on a
	// kubelet without fsGroup.
	if got := readStatus(t, base+"/read?path="+url.QueryEscape("/etc/bee/nested/bee")); !strings.Contains(got, "permission denied") {
		t.Errorf("reading an item of mode 0600 as nonroot: %q, want permission denied", got)
	}
	if fi := stat("/var/missing"); !fi.Exists {
		t.Errorf("the optional Secret's volume is not mounted")
	}
	for _, path := range []string{"/etc/settings/c", "/var/creds/c", "/ro-scratch/c", "/proc/sys/kernel/hostname"} {
		if got := write(path); !strings.Contains(got, "read-only file system") {
			t.Errorf("writing %s: %q, want a read-only file system", path, got)
		}
	}
	if got := write("/scratch/f"); got != "written" {
		t.Errorf("writing to the emptyDir: %q", got)
	}
	if got := read("/ro-scratch/f"); got != "written\n" {
		t.Errorf("the emptyDir mounted twice shows %q, want the file written through the other mount", got)
	}
	if got := write("/scratch/memory/f"); got != "written" {
		t.Errorf("writing to the memory emptyDir: %q", got)
	}

	// The service-account token, CA and namespace at the standard path,
	// and a call to the API server with them as an in-cluster client
	// makes it (the certificate names kubernetes.default.svc, not the
	// node's address).
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
	if got := read(sa + "namespace"); got != ns {
		t.Errorf("%snamespace holds %q, want %q", sa, got, ns)
	}
	if got := read(sa + "ca.crt"); !strings.HasPrefix(got, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("%sca.crt holds %q, want the cluster CA", sa, got)
	}
	list := fetchOK(t, base+"/kube?serverName=kubernetes.default.svc&path="+url.QueryEscape("/api/v1/namespaces/"+ns+"/configmaps"))
	if !strings.Contains(list, `"name":"settings"`) {
		t.Errorf("listing ConfigMaps with the pod's token: %s", list)
	}

	// The runtime contract's shape: a ko image runs as ko's base image's
	// nonroot user, in /, with HOME its own empty directory.
	var env struct {
		Env map[string]string `json:"env"`
		UID int               `json:"uid"`
		GID int               `json:"gid"`
		WD  string            `json:"wd"`
	}
	getJSON(t, base+"/env", &env)
	if env.UID != 65532 || env.GID != 65532 || env.WD != "/" || env.Env["HOME"] != "/home/nonroot" {
		t.Errorf("the ko image runs as %d:%d in %q with HOME %q, want 65532:65532 in / with HOME /home/nonroot", env.UID, env.GID, env.WD, env.Env["HOME"])
	}
	if got := write("/home/nonroot/f"); got != "written" {
		t.Errorf("writing to HOME: %q", got)
	}
	apiServer := netip.AddrPortFrom(tn.IP(), 443)
	for k, v := range map[string]string{
		"KUBERNETES_SERVICE_HOST": tn.IP().String(), "KUBERNETES_SERVICE_PORT": "443",
		"KUBERNETES_PORT": "tcp://" + apiServer.String(), "KUBERNETES_PORT_443_TCP_ADDR": tn.IP().String(),
	} {
		if env.Env[k] != v {
			t.Errorf("env %s=%q, want %q", k, env.Env[k], v)
		}
	}
	if fi := stat("/tmp"); fi.Mode != "dtrwxrwxrwx" {
		t.Errorf("/tmp has mode %s, want 1777", fi.Mode)
	}
	if got := write("/tmp/f"); got != "written" {
		t.Errorf("writing to /tmp: %q", got)
	}
	var dev []string
	getJSON(t, base+"/ls?path=/dev", &dev)
	if want := []string{"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}; !slices.Equal(dev, want) {
		t.Errorf("/dev holds %v, want %v", dev, want)
	}
	if fi := stat("/dev/fd"); fi.Link != "/proc/self/fd" {
		t.Errorf("/dev/fd links to %q, want /proc/self/fd", fi.Link)
	}
	if got := read("/etc/hostname"); got != "files\n" {
		t.Errorf("/etc/hostname holds %q", got)
	}
	if got := read("/etc/hosts"); !strings.Contains(got, running.Status.PodIP+"\tfiles\n") {
		t.Errorf("/etc/hosts does not name the pod on its address:\n%s", got)
	}
	var proc struct {
		Hostname string   `json:"hostname"`
		Stdin    string   `json:"stdin"`
		Args     []string `json:"args"`
	}
	getJSON(t, base+"/process", &proc)
	if proc.Hostname != "files" || proc.Stdin != "0 EOF" || len(proc.Args) == 0 || proc.Args[0] != app {
		t.Errorf("the process sees hostname %q, stdin %q, argv %q; want files, at EOF, %s first", proc.Hostname, proc.Stdin, proc.Args, app)
	}

	// The process runs in its container's cgroup, which it sees, read-only,
	// as the root of its own cgroup namespace.
	if cg := nodetest.NodeCgroup(tn.Name()); cg != "" {
		var self struct {
			PID int `json:"pid"`
		}
		getJSON(t, base+"/env", &self)
		procs, err := os.ReadFile(filepath.Join(cg, "pod-"+string(created.UID), pod.Spec.Containers[0].Name, "cgroup.procs"))
		if err != nil || !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(self.PID)) {
			t.Errorf("the container's cgroup holds %q (%v), want the server's pid %d", procs, err, self.PID)
		}
		if got := read("/proc/self/cgroup"); !strings.HasSuffix(got, "0::/\n") {
			t.Errorf("the container's cgroups:\n%s\nwant its own namespace's root", got)
		}
		// The pod's /sys/fs/cgroup is laid out as the host's: the v2
		// hierarchy where the host mounts it (/sys/fs/cgroup, or
		// /sys/fs/cgroup/unified beside v1's controllers on a hybrid host).
		procsFile := filepath.Join(filepath.Dir(cg), "cgroup.procs")
		if got := read(procsFile); !slices.Contains(strings.Fields(got), strconv.Itoa(self.PID)) {
			t.Errorf("%s in the pod holds %q, want the server's pid %d", procsFile, got, self.PID)
		}
		if got := write(procsFile); !strings.Contains(got, "read-only file system") {
			t.Errorf("writing %s: %q, want a read-only file system", procsFile, got)
		}
	}

	// A changed ConfigMap shows up in the running pod.
	cm, err := cms.Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["a"] = "10"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the ConfigMap's change in the pod", func(context.Context) (bool, error) {
		return read("/etc/settings/a") == "10", nil
	})

	// Deletion leaves no mount, namespace, link or route; the pod's
	// directory under the node's data directory goes too.
	if err := kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ip, _ := netip.ParseAddr(running.Status.PodIP)
	waitUntil(t, 30*time.Second, "the pod's sandbox, mounts and directory to be removed", func(context.Context) (bool, error) {
		_, err := os.Stat(filepath.Join(tn.DataDir(), "sandboxes", string(created.UID)))
		return sandboxGone(created.UID, ip) && os.IsNotExist(err), nil
	})
}

func testRouting(t *testing.T, tn *testNode, ns, server string) {
	ctx := t.Context()
	kube := cluster.Kube
	// Pod a also runs an init container first, passes an exec startup
	// probe (run inside its container, where the image's executable is
	// /ko-app/<name>) and runs as nobody.
	a := nodetest.Pod(ns, "a", tn.Name(), server)
	a.Spec.InitContainers = []corev1.Container{{Name: "init", Image: server, Args: []string{"exit", "0"}}}
	a.Spec.Containers[0].StartupProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/ko-app/" + filepath.Base(server), "exit", "0"}}},
		PeriodSeconds: 1,
	}
	a.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptrTo[int64](65534), RunAsGroup: ptrTo[int64](65534)}
	// Pod b runs as nonroot, an executable image's default user, and
	// listens on port 80, as any user may in a pod.
	b := nodetest.Pod(ns, "b", tn.Name(), server)
	b.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PORT", Value: "80"}}
	b.Spec.Containers[0].Ports[0].ContainerPort = 80
	for _, p := range []*corev1.Pod{a, b} {
		created, err := kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer deletePodAndWait(t, ns, tn.created(created))
	}
	podA := waitPod(t, ns, "a", "Running and Ready", nodetest.PodReady)
	podB := waitPod(t, ns, "b", "Running and Ready", nodetest.PodReady)

	init := podA.Status.InitContainerStatuses
	if len(init) != 1 || init[0].State.Terminated == nil || init[0].State.Terminated.ExitCode != 0 || init[0].State.Terminated.Reason != "Completed" {
		t.Errorf("init container statuses %+v, want one completed with exit code 0", init)
	}
	if b, err := kube.CoreV1().Pods(ns).GetLogs("a", &corev1.PodLogOptions{Container: "init"}).DoRaw(ctx); err != nil || string(b) != "exiting with 0\n" {
		t.Errorf("the init container's log %q (%v), want its output", b, err)
	}
	aURL := "http://" + net.JoinHostPort(podA.Status.PodIP, "8080")
	var info struct {
		UID int    `json:"uid"`
		GID int    `json:"gid"`
		WD  string `json:"wd"`
	}
	getJSON(t, aURL+"/env", &info)
	if info.UID != 65534 || info.GID != 65534 || info.WD != "/" {
		t.Errorf("pod a runs as %d:%d in %q, want 65534:65534 in /", info.UID, info.GID, info.WD)
	}
	getJSON(t, "http://"+net.JoinHostPort(podB.Status.PodIP, "80")+"/env", &info)
	if info.UID != 65532 || info.GID != 65532 {
		t.Errorf("pod b runs as %d:%d, want 65532:65532", info.UID, info.GID)
	}

	serviceIP := netip.MustParsePrefix(cluster.ControlPlane.ServiceClusterIPRange).Addr().Next()
	for _, tc := range []struct {
		what, addr, want string
	}{
		{"another pod", net.JoinHostPort(podB.Status.PodIP, "80"), "connected"},
		{"the node (its kubelet API)", net.JoinHostPort(tn.IP().String(), "10250"), "connected"},
		{"an address off the machine", "192.0.2.1:80", unreachable},
		{"a Service cluster IP (not proxied yet)", net.JoinHostPort(serviceIP.String(), "443"), unreachable},
	} {
		got := fetchOK(t, aURL+"/dial?addr="+tc.addr)
		if tc.want == unreachable && !isUnreachable(got) || tc.want != unreachable && !strings.Contains(got, tc.want) {
			t.Errorf("pod a dialling %s (%s): %q, want %q", tc.what, tc.addr, strings.TrimSpace(got), tc.want)
		}
	}
	// From the host, a pod address nobody holds fails at once rather than
	// leaving the machine.
	free := lastAddr(tn.PodCIDR())
	start := time.Now()
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(free.String(), "80"), 3*time.Second); err == nil {
		c.Close()
		t.Errorf("dialled %s, which no pod holds", free)
	} else if !isUnreachable(err.Error()) || time.Since(start) > time.Second {
		t.Errorf("dialling %s, which no pod holds: %v after %v, want unreachable at once", free, err, time.Since(start))
	}
}

func testHostNetwork(t *testing.T, tn *testNode, ns, server string) {
	ctx := t.Context()
	hostNetPort, hostPort := freePort(t), freePort(t)
	hn := nodetest.Pod(ns, "host-network", tn.Name(), server)
	hn.Spec.HostNetwork = true
	hn.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PORT", Value: itoa(hostNetPort)}}
	hn.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(hostNetPort)}}
	hp := nodetest.Pod(ns, "host-port", tn.Name(), server)
	hp.Spec.Containers[0].Ports[0].HostPort = int32(hostPort)
	for _, p := range []*corev1.Pod{hn, hp} {
		created, err := cluster.Kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer deletePodAndWait(t, ns, tn.created(created))
	}
	got := waitPod(t, ns, hn.Name, "Running and Ready", nodetest.PodReady)
	if got.Status.PodIP != tn.IP().String() {
		t.Errorf("hostNetwork pod IP %s, want the node's %s", got.Status.PodIP, tn.IP())
	}
	if body := fetchOK(t, fmt.Sprintf("http://127.0.0.1:%d/", hostNetPort)); body != "hello from \n" {
		t.Errorf("the hostNetwork pod on the host's loopback answered %q", body)
	}
	waitPod(t, ns, hp.Name, "Running and Ready", nodetest.PodReady)
	if body := fetchOK(t, fmt.Sprintf("http://127.0.0.1:%d/", hostPort)); body != "hello from \n" {
		t.Errorf("the pod behind hostPort %d answered %q", hostPort, body)
	}
}

// unreachable stands for the errors of a connection that has no route:
// ENETUNREACH inside a pod (no route at all), EHOSTUNREACH where an
// unreachable route or rule matched.
const unreachable = "network is unreachable or no route to host"

// testResourceUsage runs a pod that keeps a CPU busy, and reads the
// kubelet's resource metrics and stats summary through the API server's
// node proxy, as metrics-server and kubectl get --raw do.
func testResourceUsage(t *testing.T, tn *testNode, ns string) {
	ctx := t.Context()
	kube := cluster.Kube
	pod := nodetest.Pod(ns, "busy", tn.Name(), "/bin/sh")
	c := &pod.Spec.Containers[0]
	c.Args = []string{"-c", "while :; do :; done"}
	c.ReadinessProbe, c.Ports = nil, nil
	// Half a core at most: the test shares the machine.
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tn.created(created)
	defer deletePodAndWait(t, ns, created)
	waitPod(t, ns, pod.Name, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	proxy := func(path ...string) []byte {
		t.Helper()
		b, err := kube.CoreV1().RESTClient().Get().AbsPath(append([]string{"/api/v1/nodes", tn.Name(), "proxy"}, path...)...).DoRaw(ctx)
		if err != nil {
			t.Fatalf("GET /api/v1/nodes/%s/proxy/%s: %v\n%s", tn.Name(), strings.Join(path, "/"), err, b)
		}
		return b
	}
	containerCPU := func() float64 {
		t.Helper()
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(bytes.NewReader(proxy("metrics", "resource")))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range families["container_cpu_usage_seconds_total"].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["pod"] == "busy" && labels["container"] == "busy" {
				if m.GetTimestampMs() == 0 {
					t.Error("the container's CPU sample has no timestamp; metrics-server needs one")
				}
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("/metrics/resource has no container_cpu_usage_seconds_total for %s/busy", ns)
		return 0
	}
	first := containerCPU()
	var second float64
	waitUntil(t, 30*time.Second, "the busy container's CPU time to grow", func(context.Context) (bool, error) {
		second = containerCPU()
		return second > first, nil
	})

	var summary statsv1alpha1.Summary
	if err := json.Unmarshal(proxy("stats", "summary"), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Node.NodeName != tn.Name() || summary.Node.CPU == nil || summary.Node.Memory == nil {
		t.Errorf("the summary's node: %+v", summary.Node)
	}
	found := false
	for _, p := range summary.Pods {
		if p.PodRef.Namespace != ns || p.PodRef.Name != "busy" {
			continue
		}
		found = true
		if p.CPU == nil || p.CPU.UsageCoreNanoSeconds == nil || *p.CPU.UsageCoreNanoSeconds == 0 ||
			p.Memory == nil || p.Memory.WorkingSetBytes == nil || *p.Memory.WorkingSetBytes == 0 {
			t.Errorf("the summary's busy pod has no CPU time or working set: %+v", p)
		}
		if len(p.Containers) != 1 || p.Containers[0].Name != "busy" {
			t.Errorf("the summary's busy pod's containers: %+v", p.Containers)
		}
	}
	if !found {
		t.Errorf("the summary does not list %s/busy", ns)
	}

	// metrics-server's way in: straight to the node with its
	// ServiceAccount's token, allowed nodes/metrics and nothing more.
	role := "flywheel-test-node-metrics-" + ns
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scraper"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.RbacV1().ClusterRoles().Delete(context.Background(), role, metav1.DeleteOptions{}) })
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), role, metav1.DeleteOptions{})
	})
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "scraper", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The node's serving certificate is self-signed, as a kubelet's is
	// by default; metrics-server runs with --kubelet-insecure-tls then.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	kubelet := "https://" + net.JoinHostPort(tn.IP().String(), strconv.Itoa(node.DefaultKubeletPort))
	get := func(path, token string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, kubelet+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// RBAC's cache may take a moment to see the new binding.
	waitUntil(t, 30*time.Second, "the scraper's token to be allowed /metrics/resource", func(context.Context) (bool, error) {
		return get("/metrics/resource", tr.Status.Token) == http.StatusOK, nil
	})
	if code := get("/stats/summary", tr.Status.Token); code != http.StatusForbidden {
		t.Errorf("/stats/summary with a token allowed nodes/metrics only: %d, want 403", code)
	}
	if code := get("/metrics/resource", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics/resource without credentials: %d, want 401", code)
	}
}

func isUnreachable(msg string) bool {
	return strings.Contains(msg, "network is unreachable") || strings.Contains(msg, "no route to host")
}

// freePort returns a TCP port nothing listens on right now, from outside
// the range outgoing connections take their ports from.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := controlplane.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// lastAddr is the last address before the range's broadcast address,
// which the node hands out last.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 2
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func testKoImage(t *testing.T, tn *testNode, ns string) {
	ctx := t.Context()
	pod := nodetest.Pod(ns, "hello", tn.Name(), node.KoPrefix+"flywheel.dev/examples/hello")
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "TARGET", Value: "ko"})
	created, err := cluster.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer deletePodAndWait(t, ns, tn.created(created))
	// The first build of the example may take a while on a cold cache.
	running := waitPodFor(t, 3*time.Minute, ns, pod.Name, "Running and Ready", nodetest.PodReady)
	body := fetchOK(t, "http://"+net.JoinHostPort(running.Status.PodIP, "8080")+"/")
	if !strings.HasPrefix(body, "Hello ko!") {
		t.Errorf("the ko:// image answered %q, want the hello example's greeting", body)
	}
	imageID := running.Status.ContainerStatuses[0].ImageID
	digest, ok := strings.CutPrefix(imageID, "sha256:")
	if !ok || len(digest) != 64 {
		t.Fatalf("imageID %q, want sha256:<64 hex digits>", imageID)
	}
	if got := fileSHA256(t, filepath.Join(tn.imageCache, "sha256-"+digest)); got != digest {
		t.Errorf("the cached executable's digest is %s, the imageID says %s", got, digest)
	}
}

func testImagesConfigMap(t *testing.T, tn *testNode, ns, server string) {
	ctx := t.Context()
	// Unmapped, the image is pulled from its registry: one on loopback
	// where nothing listens, so that the pull fails at once, on the host.
	img := fmt.Sprintf("127.0.0.1:1/test-server-%d:v1", os.Getpid())
	pod := nodetest.Pod(ns, "mapped", tn.Name(), img)
	created, err := cluster.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer deletePodAndWait(t, ns, tn.created(created))
	waiting := waitPod(t, ns, pod.Name, "waiting on the image", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff")
	})
	if msg := waiting.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, img) || !strings.Contains(msg, node.DefaultImagesConfigMap) || !strings.Contains(msg, node.ImagesConfigMapKey(img)) {
		t.Errorf("waiting message %q, want one naming the image, the ConfigMap %s and the key to add", msg, node.DefaultImagesConfigMap)
	}

	// The image is mapped by hand, and so runs as nonroot; a second one
	// stands for an upstream image that runs as root.
	rootImg := fmt.Sprintf("127.0.0.1:1/test-server-root-%d:v1", os.Getpid())
	mappings := map[string]string{
		node.ImagesConfigMapKey(img):     server,
		node.ImagesConfigMapKey(rootImg): node.ImageMapping(server, "0"),
	}
	cmNamespace, cmName, _ := strings.Cut(node.DefaultImagesConfigMap, "/")
	cms := cluster.Kube.CoreV1().ConfigMaps(cmNamespace)
	cm, err := cms.Get(ctx, cmName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName}, Data: mappings}, metav1.CreateOptions{})
		t.Cleanup(func() { _ = cms.Delete(context.Background(), cmName, metav1.DeleteOptions{}) })
	case err == nil:
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		maps.Copy(cm.Data, mappings)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		t.Cleanup(func() {
			if cm, err := cms.Get(context.Background(), cmName, metav1.GetOptions{}); err == nil {
				for k := range mappings {
					delete(cm.Data, k)
				}
				_, _ = cms.Update(context.Background(), cm, metav1.UpdateOptions{})
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	running := waitPod(t, ns, pod.Name, "Running once the ConfigMap maps the image", nodetest.PodReady)
	if got, want := running.Status.ContainerStatuses[0].ImageID, "sha256:"+fileSHA256(t, server); got != want {
		t.Errorf("imageID %q, want %q", got, want)
	}
	var info struct {
		Env map[string]string `json:"env"`
		UID int               `json:"uid"`
		GID int               `json:"gid"`
	}
	getJSON(t, "http://"+net.JoinHostPort(running.Status.PodIP, "8080")+"/env", &info)
	if info.UID != 65532 || info.GID != 65532 || info.Env["HOME"] != "/home/nonroot" {
		t.Errorf("the mapped image runs as %d:%d with HOME %q, want 65532:65532 with HOME /home/nonroot", info.UID, info.GID, info.Env["HOME"])
	}

	rootPod := nodetest.Pod(ns, "mapped-root", tn.Name(), rootImg)
	created, err = cluster.Kube.CoreV1().Pods(ns).Create(ctx, rootPod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer deletePodAndWait(t, ns, tn.created(created))
	running = waitPod(t, ns, rootPod.Name, "Running as root", nodetest.PodReady)
	base := "http://" + net.JoinHostPort(running.Status.PodIP, "8080")
	getJSON(t, base+"/env", &info)
	if info.UID != 0 || info.GID != 0 || info.Env["HOME"] != "/root" {
		t.Errorf("the image mapped with user=0 runs as %d:%d with HOME %q, want 0:0 with HOME /root", info.UID, info.GID, info.Env["HOME"])
	}
	// Its /root is its own, empty, not the host's.
	var home []string
	getJSON(t, base+"/ls?path=/root", &home)
	if len(home) != 0 {
		t.Errorf("the container's /root holds %q, want its own empty directory", home)
	}
}

// nodeDataDirs holds the data directories of the nodes the tests run, at a
// fixed place rather than in t.TempDir: when a test binary is killed (a
// timeout) its cleanups do not run, and the next run must still find the
// killed node's state to sweep what it left on the host.
var nodeDataDirs = filepath.Join(os.TempDir(), "flywheel-node-test")

// nodeDataDir sweeps what nodes of earlier, dead test processes left, then
// returns a data directory for a node of this one, removed after the test.
func nodeDataDir(t *testing.T, name string) string {
	t.Helper()
	entries, _ := os.ReadDir(nodeDataDirs)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), fmt.Sprintf("-%d", os.Getpid())) {
			continue // this process's own, in use
		}
		dir := filepath.Join(nodeDataDirs, e.Name())
		// Sweep refuses the directory of a node that still runs.
		if err := node.Sweep(dir); err == nil {
			_ = os.RemoveAll(dir)
		}
	}
	dir := filepath.Join(nodeDataDirs, fmt.Sprintf("%s-%d", name, os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// buildTestServer builds the node's test workload where any user can run
// it: pods run it as nobody, and t.TempDir's directories are root's alone.
func buildTestServer(t *testing.T) string {
	t.Helper()
	root, err := local.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fw-node-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	server, err := nodetest.BuildServer(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	return server
}

// waitDefaultServiceAccount waits for the controller manager to create the
// namespace's default ServiceAccount, without which pods are refused.
func waitDefaultServiceAccount(t *testing.T, ns string) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := cluster.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func waitPod(t *testing.T, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	return waitPodFor(t, 30*time.Second, ns, name, what, cond)
}

func waitPodFor(t *testing.T, timeout time.Duration, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	p, err := nodetest.WaitPod(ctx, cluster.Kube, ns, name, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return p
}

// deletePodAndWait deletes the pod and waits until the node removed its
// sandbox.
func deletePodAndWait(t *testing.T, ns string, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	p, _ := cluster.Kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err := cluster.Kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting pod %s: %v", pod.Name, err)
		return
	}
	ip, _ := netip.ParseAddr(p.Status.PodIP)
	waitUntil(t, 30*time.Second, "the pod's sandbox to be removed", func(ctx context.Context) (bool, error) {
		_, err := cluster.Kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err) && sandboxGone(pod.UID, ip), nil
	})
}

// sandboxGone reports whether the pod's namespace, veth and host route are
// all gone.
func sandboxGone(uid types.UID, ip netip.Addr) bool {
	var podRoute netip.Prefix
	if ip.IsValid() {
		podRoute = netip.PrefixFrom(ip, 32)
	}
	return len(nodetest.Leftovers(podRoute, netip.Addr{}, []types.UID{uid})) == 0
}

// assertHostClean checks, after the node stopped, that nothing of it is
// left on the host.
func assertHostClean(t *testing.T, tn *testNode) {
	t.Helper()
	tn.mu.Lock()
	left := nodetest.Leftovers(tn.PodCIDR(), tn.IP(), tn.uids)
	tn.mu.Unlock()
	if _, err := os.Stat(filepath.Join(tn.DataDir(), "state.json")); err == nil {
		left = append(left, "the node's state file")
	}
	if cg := nodetest.NodeCgroup(tn.Name()); cg != "" {
		if _, err := os.Stat(cg); err == nil {
			left = append(left, "the node's cgroup "+cg)
		}
	}
	if len(left) > 0 {
		t.Errorf("left on the host after the node stopped:\n%s", strings.Join(left, "\n"))
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	d, err := nodetest.FileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var nodeTestClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// fetchOK GETs url from the host and returns the body of a 200.
func fetchOK(t *testing.T, url string) string {
	t.Helper()
	resp, err := nodeTestClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// readStatus GETs url from the host and returns its status and body,
// whatever the status.
func readStatus(t *testing.T, url string) string {
	t.Helper()
	resp, err := nodeTestClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + ": " + string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(fetchOK(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// syncBuffer collects the node's log from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
