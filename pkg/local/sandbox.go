package local

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// sandboxPrefix starts the name of every network namespace and host link a
// sandbox makes, followed by the id of the process that made it, so that a
// later run can remove what a crashed run left behind.
const sandboxPrefix = "fwsb"

// Sandbox is a network namespace with one routed veth to the host: a
// stand-in for a pod, with its own IP that the host (and so the API server)
// reaches, and its own ports, so components run in it cannot collide with
// anything on the host.
type Sandbox struct {
	// Name is the network namespace's name (under /var/run/netns).
	Name string
	// IP is the sandbox's address; the host reaches it through the veth.
	IP net.IP

	hostLink string
	handle   netns.NsHandle

	mu        sync.Mutex
	listeners []net.Listener
	procs     []*exec.Cmd
}

var sandboxCount struct {
	sync.Mutex
	n int
}

// NewSandbox makes a network namespace with loopback up and a veth whose
// host end has the first address of a /30 and whose sandbox end has the
// second, with a default route back through the host. Addresses come from
// 10.250.0.0/16, away from the process node's default pod range.
func NewSandbox() (*Sandbox, error) { return newSandbox(nil) }

// newSandbox is NewSandbox that first hands the names it is about to make
// to record, when not nil, so that they can be removed after a crash.
func newSandbox(record func(SandboxRecord) error) (*Sandbox, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("network sandboxes need root (CAP_NET_ADMIN)")
	}
	SweepStaleSandboxes()

	sandboxCount.Lock()
	sandboxCount.n++
	n := sandboxCount.n
	sandboxCount.Unlock()

	pid := os.Getpid()
	// 16384 /30 subnets in the /16: spread processes by pid so parallel
	// processes (test binaries, a running `fw local`) rarely pick the same
	// one, and check below that the subnet is free.
	slot := (pid*7 + n) % 16384
	subnet := net.IPv4(10, 250, byte(slot>>6), byte((slot&63)<<2))
	hostIP := nextIP(subnet, 1)
	sandboxIP := nextIP(subnet, 2)
	if inUse(hostIP) {
		return nil, fmt.Errorf("sandbox subnet %s/30 is already in use on this host", subnet)
	}

	s := &Sandbox{
		Name:     fmt.Sprintf("%s-%d-%d", sandboxPrefix, pid, n),
		IP:       sandboxIP,
		hostLink: fmt.Sprintf("%s%dh%d", sandboxPrefix, pid%100000, n),
	}
	if record != nil {
		if err := record(SandboxRecord{Netns: s.Name, HostLink: s.hostLink}); err != nil {
			return nil, err
		}
	}
	if err := s.create(hostIP); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) create(hostIP net.IP) error {
	var err error
	s.handle, err = newNamedNetns(s.Name)
	if err != nil {
		return fmt.Errorf("creating network namespace %s: %w", s.Name, err)
	}

	const peer = "eth0"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: s.hostLink}, PeerName: s.hostLink + "p"}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", s.hostLink, err)
	}
	host, err := netlink.LinkByName(s.hostLink)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP, Mask: net.CIDRMask(30, 32)}}); err != nil {
		return fmt.Errorf("addressing %s: %w", s.hostLink, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return err
	}
	sbEnd, err := netlink.LinkByName(s.hostLink + "p")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetNsFd(sbEnd, int(s.handle)); err != nil {
		return fmt.Errorf("moving veth end into %s: %w", s.Name, err)
	}

	inside, err := netlink.NewHandleAt(s.handle)
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
	eth, err := inside.LinkByName(s.hostLink + "p")
	if err != nil {
		return err
	}
	if err := inside.LinkSetName(eth, peer); err != nil {
		return err
	}
	if err := inside.AddrAdd(eth, &netlink.Addr{IPNet: &net.IPNet{IP: s.IP, Mask: net.CIDRMask(30, 32)}}); err != nil {
		return err
	}
	if err := inside.LinkSetUp(eth); err != nil {
		return err
	}
	return inside.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: hostIP})
}

// ForwardFromInside listens on addr inside the sandbox (e.g.
// "127.0.0.1:6443") and copies each connection to target on the host. It
// lets a process in the sandbox reach the API server, which listens only on
// the host's loopback.
func (s *Sandbox) ForwardFromInside(addr, target string) error {
	var l net.Listener
	err := s.do(func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return fmt.Errorf("listening on %s in %s: %w", addr, s.Name, err)
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()

	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return // closed
			}
			go func() {
				defer in.Close()
				out, err := net.DialTimeout("tcp", target, 5*time.Second)
				if err != nil {
					return
				}
				defer out.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(out, in); closeWrite(out); done <- struct{}{} }()
				go func() { _, _ = io.Copy(in, out); closeWrite(in); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return nil
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// Start starts cmd inside the sandbox's network namespace, in a process
// group of its own that dies with the process that started it. Close ends
// it.
func (s *Sandbox) Start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The child inherits the namespace of the thread that forks it.
	if err := s.do(cmd.Start); err != nil {
		return err
	}
	s.mu.Lock()
	s.procs = append(s.procs, cmd)
	s.mu.Unlock()
	return nil
}

// do runs f on a thread switched into the sandbox's network namespace and
// switches the thread back before anything else may run on it.
func (s *Sandbox) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	host, err := netns.Get()
	if err != nil {
		return err
	}
	defer host.Close()
	if err := netns.Set(s.handle); err != nil {
		return err
	}
	ferr := f()
	if err := netns.Set(host); err != nil {
		// The thread is stuck in the sandbox; keep it locked so the
		// runtime discards it instead of reusing it.
		runtime.LockOSThread()
		return errors.Join(ferr, fmt.Errorf("returning to the host network namespace: %w", err))
	}
	return ferr
}

// Close ends the sandbox's processes (SIGTERM, then SIGKILL after a grace
// period), closes its listeners, and removes the veth and the namespace. It
// is safe to call more than once.
func (s *Sandbox) Close() {
	s.mu.Lock()
	procs, listeners := s.procs, s.listeners
	s.procs, s.listeners = nil, nil
	s.mu.Unlock()

	for _, p := range procs {
		stopProcessGroup(p, 5*time.Second)
	}
	for _, l := range listeners {
		_ = l.Close()
	}
	if link, err := netlink.LinkByName(s.hostLink); err == nil {
		_ = netlink.LinkDel(link)
	}
	if s.handle.IsOpen() {
		_ = s.handle.Close()
	}
	_ = netns.DeleteNamed(s.Name)
}

// stopProcessGroup sends SIGTERM to the process group of cmd, waits up to
// grace for the process to exit, then sends SIGKILL.
func stopProcessGroup(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
}

// newNamedNetns creates a named network namespace without leaving the
// calling thread in it.
func newNamedNetns(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	host, err := netns.Get()
	if err != nil {
		return netns.None(), err
	}
	defer host.Close()
	h, err := netns.NewNamed(name) // also switches this thread into it
	if serr := netns.Set(host); serr != nil {
		runtime.LockOSThread() // never reuse a thread stuck in the sandbox
		return netns.None(), errors.Join(err, serr)
	}
	return h, err
}

// SweepStaleSandboxes removes the namespaces and links of processes that
// no longer run, so a crashed run does not leak into the next one.
func SweepStaleSandboxes() {
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		parts := strings.Split(e.Name(), "-")
		if len(parts) != 3 || parts[0] != sandboxPrefix {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || processAlive(pid) {
			continue
		}
		_ = netns.DeleteNamed(e.Name())
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		name := l.Attrs().Name
		if !strings.HasPrefix(name, sandboxPrefix) {
			continue
		}
		pidPart := strings.TrimPrefix(name, sandboxPrefix)
		if i := strings.IndexByte(pidPart, 'h'); i > 0 {
			pidPart = pidPart[:i]
		}
		pid, err := strconv.Atoi(pidPart)
		// Link names keep only the last five digits of the pid: remove a
		// link only when no running process could own it.
		if err != nil || anyProcessWithSuffix(pid) {
			continue
		}
		_ = netlink.LinkDel(l)
	}
}

// SweepSandboxes removes the network namespaces and host links of the
// sandboxes recorded, whatever made them (a Flywheel's State), and returns
// what it removed. Names without the sandboxes' prefix are left alone.
func SweepSandboxes(records []SandboxRecord) (removed []string, err error) {
	var errs []error
	for _, r := range records {
		if strings.HasPrefix(r.HostLink, sandboxPrefix) {
			if link, lerr := netlink.LinkByName(r.HostLink); lerr == nil {
				if err := netlink.LinkDel(link); err != nil {
					errs = append(errs, fmt.Errorf("removing link %s: %w", r.HostLink, err))
				} else {
					removed = append(removed, "link "+r.HostLink)
				}
			}
		}
		if strings.HasPrefix(r.Netns, sandboxPrefix) {
			if _, serr := os.Stat(filepath.Join(netnsDir, r.Netns)); serr == nil {
				if err := netns.DeleteNamed(r.Netns); err != nil {
					errs = append(errs, fmt.Errorf("removing network namespace %s: %w", r.Netns, err))
				} else {
					removed = append(removed, "network namespace "+r.Netns)
				}
			}
		}
	}
	return removed, errors.Join(errs...)
}

// netnsDir holds the named network namespaces (ip netns).
const netnsDir = "/var/run/netns"

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func anyProcessWithSuffix(suffix int) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid%100000 == suffix {
			return true
		}
	}
	return false
}

func inUse(ip net.IP) bool {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			return true
		}
	}
	return false
}

func nextIP(ip net.IP, n int) net.IP {
	v4 := ip.To4()
	out := make(net.IP, 4)
	copy(out, v4)
	out[3] += byte(n)
	return out
}

// OnThisHost reports whether a connection to ip stays on this machine: ip
// is a loopback address, an address of the host (the node's on lo among
// them), or a sandbox's, behind a veth the host holds the other end of.
// Anything else would follow the default route off the machine, which
// checks of local components must not do.
func OnThisHost(ip net.IP) bool {
	if ip.IsLoopback() {
		return true
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			return true
		}
		link, err := netlink.LinkByIndex(a.LinkIndex)
		if err == nil && strings.HasPrefix(link.Attrs().Name, sandboxPrefix) && a.Contains(ip) {
			return true
		}
	}
	return false
}
