package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
)

// netnsDir is where named network namespaces live (as `ip netns` keeps
// them).
const netnsDir = "/var/run/netns"

// shortID is the part of a pod's UID in the names of what the node makes
// for it: twelve hex digits, as many as fit in a link name after a
// three-letter prefix (Linux allows fifteen characters).
func shortID(uid types.UID) string {
	s := strings.ReplaceAll(string(uid), "-", "")
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// NetnsName is the name of the network namespace of the pod with this UID
// (under /var/run/netns, as `ip netns list` shows it).
func NetnsName(uid types.UID) string { return "fwpod-" + shortID(uid) }

// HostLinkName is the name of the host end of the veth of the pod with
// this UID; the pod's end is eth0 inside its namespace.
func HostLinkName(uid types.UID) string { return "fwp" + shortID(uid) }

// sandboxPart is one layer of a pod's isolation. A sandbox sets its parts
// up in order and tears them down in reverse: the network, the cgroup,
// the pod's files (its /tmp, /etc files and volumes, from which each
// container's mount namespace is built when it starts) and the hostPort
// forwarders.
type sandboxPart interface {
	setUp(ctx context.Context, sb *sandbox) error
	tearDown(sb *sandbox) error
}

// sandbox is what a pod's processes run in.
type sandbox struct {
	uid types.UID
	// netnsPath is the pod's network namespace, empty for hostNetwork pods,
	// which run in the host's.
	netnsPath string
	// ip is the pod's address: its own, or the node's for hostNetwork pods.
	ip netip.Addr

	parts []sandboxPart
	up    int // how many parts are set up
}

// setUp sets up every part in order; on error the caller tears down
// the parts that were set up.
func (sb *sandbox) setUp(ctx context.Context) error {
	for _, p := range sb.parts[sb.up:] {
		if err := p.setUp(ctx, sb); err != nil {
			// A part undoes its own partial work; the caller tears down
			// the parts before it.
			return errors.Join(err, p.tearDown(sb))
		}
		sb.up++
	}
	return nil
}

// tearDown removes the parts that were set up, last first.
func (sb *sandbox) tearDown() error {
	var errs []error
	for ; sb.up > 0; sb.up-- {
		errs = append(errs, sb.parts[sb.up-1].tearDown(sb))
	}
	return errors.Join(errs...)
}

// podNetwork is a network namespace with loopback up and one veth pair:
// eth0 inside with the pod's /32, the host end with a /32 route to it.
// Inside, the node's address is on-link and the only gateway, for the pod
// and service ranges; there is no default route.
type podNetwork struct {
	netns, hostLink string
	nodeIP          netip.Addr
	routed          []netip.Prefix // pod and service ranges
	// record writes what is about to be made to the node state, so that a
	// crash in between leaves nothing Sweep does not know.
	record func(netns, hostLink string) error
}

func (n *podNetwork) setUp(_ context.Context, sb *sandbox) error {
	if err := n.record(n.netns, n.hostLink); err != nil {
		return err
	}
	ns, err := newNamedNetns(n.netns)
	if err != nil {
		return fmt.Errorf("creating network namespace %s: %w", n.netns, err)
	}
	defer ns.Close()
	sb.netnsPath = filepath.Join(netnsDir, n.netns)

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.hostLink},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ns),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", n.hostLink, err)
	}
	host, err := netlink.LinkByName(n.hostLink)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return err
	}
	// Forwarding is switched on for packets arriving from this pod only,
	// not host-wide: pod-to-pod traffic needs it, nothing else does.
	if err := os.WriteFile(fmt.Sprintf("/proc/sys/net/ipv4/conf/%s/forwarding", n.hostLink), []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling forwarding from %s: %w", n.hostLink, err)
	}
	if err := netlink.RouteAdd(&netlink.Route{
		LinkIndex: host.Attrs().Index,
		Dst:       ipNet(netip.PrefixFrom(sb.ip, 32)),
		Src:       n.nodeIP.AsSlice(),
		Scope:     netlink.SCOPE_LINK,
	}); err != nil {
		return fmt.Errorf("routing %s to %s: %w", sb.ip, n.hostLink, err)
	}

	inside, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer inside.Close()
	lo, err := inside.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := inside.LinkSetUp(lo); err != nil {
		return err
	}
	eth, err := inside.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := inside.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(sb.ip, 32))}); err != nil {
		return fmt.Errorf("addressing eth0 in %s: %w", n.netns, err)
	}
	if err := inside.LinkSetUp(eth); err != nil {
		return err
	}
	idx := eth.Attrs().Index
	if err := inside.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: ipNet(netip.PrefixFrom(n.nodeIP, 32)), Scope: netlink.SCOPE_LINK}); err != nil {
		return fmt.Errorf("routing to the node in %s: %w", n.netns, err)
	}
	for _, p := range n.routed {
		if err := inside.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: ipNet(p), Gw: n.nodeIP.AsSlice()}); err != nil {
			return fmt.Errorf("routing %s in %s: %w", p, n.netns, err)
		}
	}
	// Any user may bind any port in the pod's namespace, as containerd
	// (from 2.0, enable_unprivileged_ports) and Docker set a pod up: an
	// image that runs as non-root, as CoreDNS's does, binds port 53.
	if err := inNetns(sb.netnsPath, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", []byte("0"), 0o644)
	}); err != nil {
		return fmt.Errorf("letting any user bind low ports in %s: %w", n.netns, err)
	}
	return nil
}

func (n *podNetwork) tearDown(*sandbox) error {
	return removePodNetwork(n.netns, n.hostLink)
}

// removePodNetwork ends every process left in the namespace, then deletes
// the veth (its host route goes with it) and the namespace. Parts already
// gone are fine.
func removePodNetwork(netnsName, hostLink string) error {
	var errs []error
	if netnsName != "" {
		killNetnsProcesses(filepath.Join(netnsDir, netnsName))
	}
	if hostLink != "" {
		if l, err := netlink.LinkByName(hostLink); err == nil {
			if err := netlink.LinkDel(l); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("deleting veth %s: %w", hostLink, err))
			}
		}
	}
	if netnsName != "" {
		if err := netns.DeleteNamed(netnsName); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("deleting network namespace %s: %w", netnsName, err))
		}
	}
	return errors.Join(errs...)
}

// killNetnsProcesses sends SIGKILL to every process in the network
// namespace at path and waits a little for them to go. Only the node
// starts processes there (and they their children), so these are the
// pod's stragglers: daemons that left their process group included.
func killNetnsProcesses(path string) {
	var target unix.Stat_t
	if err := unix.Stat(path, &target); err != nil {
		return
	}
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			var st unix.Stat_t
			if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil || st.Dev != target.Dev || st.Ino != target.Ino {
				continue
			}
			if ps, err := readStat(pid); err == nil && ps.state != 'Z' {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		pids := find()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errThreadStuck marks a thread that could not return to the host's
// network namespace; it is then left locked, so the runtime ends it.
var errThreadStuck = errors.New("the thread could not return to the host network namespace")

// inNetns runs f on a thread switched into the network namespace at path
// (the host's when path is empty). Sockets f opens and processes it starts
// belong to that namespace.
func inNetns(path string, f func() error) error {
	if path == "" {
		return f()
	}
	return onLockedThread(func() error {
		target, err := netns.GetFromPath(path)
		if err != nil {
			return fmt.Errorf("opening network namespace %s: %w", path, err)
		}
		defer target.Close()
		host, err := netns.Get()
		if err != nil {
			return err
		}
		defer host.Close()
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", path, err)
		}
		ferr := f()
		if err := netns.Set(host); err != nil {
			return errors.Join(ferr, err, errThreadStuck)
		}
		return ferr
	})
}

// newNamedNetns creates a named network namespace without leaving any
// thread in it.
func newNamedNetns(name string) (netns.NsHandle, error) {
	h := netns.None()
	err := onLockedThread(func() error {
		host, err := netns.Get()
		if err != nil {
			return err
		}
		defer host.Close()
		// NewNamed also moves this thread into the new namespace.
		var nerr error
		h, nerr = netns.NewNamed(name)
		if err := netns.Set(host); err != nil {
			return errors.Join(nerr, err, errThreadStuck)
		}
		return nerr
	})
	return h, err
}

// onLockedThread runs f on a goroutine locked to its thread. When f
// returns errThreadStuck the thread stays locked and ends with the
// goroutine, so no other goroutine ever runs in the wrong namespace.
func onLockedThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := f()
		if !errors.Is(err, errThreadStuck) {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
