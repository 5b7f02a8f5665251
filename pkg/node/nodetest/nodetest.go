// Package nodetest helps tests of the process node: it builds the node's
// test workload, makes and waits for pods, runs a node in a re-executed
// test binary, and lists what a node left on the host.
package nodetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/node"
)

// ServerPackage is the node's test workload, relative to the repository
// root: an HTTP server on $PORT with switchable health, an /env report, a
// /dial endpoint, /read, /write, /stat and /ls of paths as the pod sees
// them, /process (hostname, stdin, argv) and /kube (an API call as an
// in-cluster client); "server exit <code>" prints a line and exits.
const ServerPackage = "./pkg/node/testdata/server"

// ServerImportPath is ServerPackage as a Go import path, for ko:// images.
const ServerImportPath = "flywheel.dev/pkg/node/testdata/server"

// BuildServer builds ServerPackage from the repository at root into dir
// and returns the executable's path. dir must be readable by the users the
// test's pods run as.
func BuildServer(root, dir string) (string, error) {
	out := filepath.Join(dir, "server")
	cmd := exec.Command("go", "build", "-o", out, ServerPackage)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test server: %w\n%s", err, b)
	}
	return out, nil
}

// Leftovers lists, the way `ip netns list`, `ip link`, `ip addr`,
// `ip route` and `ip rule` would show them, what a node with this pod
// range and node IP left on the host: the namespaces, veths, mounts and
// cgroups of the pods with these UIDs, the node's address, any route into the pod
// range and the rules for it. Empty means clean.
func Leftovers(podCIDR netip.Prefix, nodeIP netip.Addr, uids []types.UID) []string {
	var left []string
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for _, uid := range uids {
		for line := range strings.SplitSeq(string(mountinfo), "\n") {
			if strings.Contains(line, string(uid)) {
				left = append(left, "mount "+line)
			}
		}
		cgroups, _ := filepath.Glob(filepath.Join(cgroup2Mount(), "flywheel-*", "pod-"+string(uid)))
		for _, cg := range cgroups {
			left = append(left, "cgroup "+cg)
		}
		if _, err := os.Stat(filepath.Join("/var/run/netns", node.NetnsName(uid))); err == nil {
			left = append(left, "netns "+node.NetnsName(uid))
		}
		if _, err := netlink.LinkByName(node.HostLinkName(uid)); err == nil {
			left = append(left, "link "+node.HostLinkName(uid))
		}
	}
	addrs, _ := netlink.AddrList(nil, netlink.FAMILY_V4)
	for _, a := range addrs {
		if a.IP.Equal(nodeIP.AsSlice()) {
			left = append(left, "address "+a.IPNet.String())
		}
	}
	routes, _ := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	for _, r := range routes {
		// The local table's routes follow addresses, checked above.
		if r.Dst == nil || r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		if ip, ok := netip.AddrFromSlice(r.Dst.IP); ok && podCIDR.Contains(ip.Unmap()) {
			left = append(left, "route "+r.String())
		}
	}
	rules, _ := netlink.RuleList(netlink.FAMILY_V4)
	for _, r := range rules {
		if r.Src != nil && r.Src.String() == podCIDR.String() {
			left = append(left, fmt.Sprintf("rule %d from %s", r.Priority, r.Src))
		}
	}
	return left
}

// NodeCgroup is where the node with this name keeps its pods' cgroups,
// empty when the host has no cgroup v2 hierarchy.
func NodeCgroup(nodeName string) string {
	mount := cgroup2Mount()
	if mount == "" {
		return ""
	}
	return filepath.Join(mount, "flywheel-"+nodeName)
}

// cgroup2Mount is where the cgroup v2 hierarchy is mounted, if anywhere.
func cgroup2Mount() string {
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for line := range strings.SplitSeq(string(mountinfo), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 {
			return f[4]
		}
	}
	return ""
}

// ProcessRunning reports whether pid runs. A zombie (killed, not yet
// reaped by whoever inherited it) does not count.
func ProcessRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// Pod is a pod for the node named nodeName (set directly, as a scheduler
// would) running image as the test server on port 8080 ("http"), with a
// readiness probe on /ready, a two-second grace period and no
// service-account token.
func Pod(namespace, name, nodeName, image string) *corev1.Pod {
	grace := int64(2)
	automount := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &automount,
			Containers: []corev1.Container{{
				Name:  name,
				Image: image,
				Env:   []corev1.EnvVar{{Name: "PORT", Value: "8080"}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
}

// PodReady reports whether the pod is Running with condition Ready.
func PodReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// NodeReady reports whether the Node has condition Ready.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitPod polls the pod until cond holds or ctx ends; on failure the error
// carries the pod as last seen, as YAML-ish JSON for the test log.
func WaitPod(ctx context.Context, kube kubernetes.Interface, namespace, name string, cond func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var last *corev1.Pod
	for {
		p, err := kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = p
			if cond(p) {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			b, _ := json.MarshalIndent(last, "", "  ")
			return nil, fmt.Errorf("pod %s/%s: %w; last seen:\n%s", namespace, name, ctx.Err(), b)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FileDigest is the hex sha256 of a file: what the node reports as the
// image ID of an executable.
func FileDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// HelperConfig configures RunHelper.
type HelperConfig struct {
	Kubeconfig  string `json:"kubeconfig"`
	Name        string `json:"name"`
	DataDir     string `json:"dataDir"`
	PodCIDR     string `json:"podCIDR"`
	ServiceCIDR string `json:"serviceCIDR"`
}

// RunHelper runs a node configured by cfgJSON (a HelperConfig) until
// SIGTERM and returns an exit code: the body of a test binary re-executed
// as a node, so that a test can kill the node the hard way.
func RunHelper(cfgJSON string) int {
	var hc HelperConfig
	if err := json.Unmarshal([]byte(cfgJSON), &hc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rc, err := clientcmd.BuildConfigFromFlags("", hc.Kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, err := node.New(node.Config{RESTConfig: rc, NodeName: hc.Name, DataDir: hc.DataDir, PodCIDR: hc.PodCIDR, ServiceCIDR: hc.ServiceCIDR})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
