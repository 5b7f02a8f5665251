//go:build integration

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// A netnsRange is where one test's network namespaces get their names and
// addresses: the namespace is "<prefix>-<pid>" and its veth's ends
// "<prefix><pid>h" (host) and "<prefix><pid>p" (pod), so that a later run
// can remove what a killed one left; the /30 comes from subnets of
// network, picked by pid so that parallel test processes rarely collide
// (and a collision is caught, not shared).
type netnsRange struct {
	prefix  string
	network netip.Prefix
}

// The ranges of the tests that make their own namespaces.
var (
	interceptNetns = netnsRange{prefix: "fwic", network: netip.MustParsePrefix("10.251.0.0/16")}
	gatewayNetns   = netnsRange{prefix: "fwgw", network: netip.MustParsePrefix("10.252.0.0/24")}
)

// podNetns is a network namespace standing for a pod: loopback up and one
// veth to the host, with a /30 of its range.
type podNetns struct {
	name     string
	handle   netns.NsHandle
	hostLink string
	hostIP   netip.Addr
	ip       netip.Addr

	mu     sync.Mutex
	output bytes.Buffer // the sidecar's stderr, in the intercept tests
}

func newPodNetns(t *testing.T, r netnsRange) *podNetns {
	t.Helper()
	r.sweep()
	pid := os.Getpid()
	subnets := 1 << (30 - r.network.Bits())
	base := r.network.Addr().As4()
	offset := uint32(pid%subnets) << 2
	first := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3]) + offset
	at := func(i uint32) netip.Addr {
		a := first + i
		return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	}
	p := &podNetns{
		name:     fmt.Sprintf("%s-%d", r.prefix, pid),
		hostLink: fmt.Sprintf("%s%dh", r.prefix, pid),
		hostIP:   at(1),
		ip:       at(2),
	}
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range addrs {
			if a.IP.Equal(p.hostIP.AsSlice()) {
				t.Fatalf("%s is already used on this host (another test run?)", p.hostIP)
			}
		}
	}
	t.Cleanup(p.close)
	if err := p.create(fmt.Sprintf("%s%dp", r.prefix, pid)); err != nil {
		t.Fatalf("creating the pod's network namespace %s: %v", p.name, err)
	}
	return p
}

func (p *podNetns) create(peer string) error {
	err := lockedThread(func() error {
		host, err := netns.Get()
		if err != nil {
			return err
		}
		defer host.Close()
		// NewNamed also moves this thread into the new namespace.
		p.handle, err = netns.NewNamed(p.name)
		if serr := netns.Set(host); serr != nil {
			return errors.Join(err, serr, errThreadStuck)
		}
		return err
	})
	if err != nil {
		return err
	}

	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p.hostLink}, PeerName: peer}); err != nil {
		return fmt.Errorf("creating veth %s: %w", p.hostLink, err)
	}
	hostEnd, err := netlink.LinkByName(p.hostLink)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(hostEnd, addr30(p.hostIP)); err != nil {
		return fmt.Errorf("addressing %s: %w", p.hostLink, err)
	}
	if err := netlink.LinkSetUp(hostEnd); err != nil {
		return err
	}
	podEnd, err := netlink.LinkByName(peer)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetNsFd(podEnd, int(p.handle)); err != nil {
		return fmt.Errorf("moving %s into %s: %w", peer, p.name, err)
	}

	inside, err := netlink.NewHandleAt(p.handle)
	if err != nil {
		return err
	}
	defer inside.Close()
	for _, name := range []string{"lo", peer} {
		l, err := inside.LinkByName(name)
		if err != nil {
			return err
		}
		if name == peer {
			if err := inside.AddrAdd(l, addr30(p.ip)); err != nil {
				return fmt.Errorf("addressing %s: %w", peer, err)
			}
		}
		if err := inside.LinkSetUp(l); err != nil {
			return fmt.Errorf("setting %s up: %w", name, err)
		}
	}
	return nil
}

func addr30(a netip.Addr) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(30, 32)}}
}

// close deletes the veth (both ends) and the namespace. The processes in
// it have been stopped by then: their cleanups ran first.
func (p *podNetns) close() {
	if l, err := netlink.LinkByName(p.hostLink); err == nil {
		_ = netlink.LinkDel(l)
	}
	if p.handle.IsOpen() {
		_ = p.handle.Close()
	}
	_ = netns.DeleteNamed(p.name)
}

// sweep removes the namespaces and links of test processes that no
// longer run.
func (r netnsRange) sweep() {
	deadOwner := func(rest string) bool {
		pid, err := strconv.Atoi(rest)
		return err == nil && (pid == os.Getpid() || !processRunning(pid))
	}
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), r.prefix+"-"); ok && deadOwner(rest) {
			_ = netns.DeleteNamed(e.Name())
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		rest, ok := strings.CutPrefix(l.Attrs().Name, r.prefix)
		if ok && (strings.HasSuffix(rest, "h") || strings.HasSuffix(rest, "p")) && deadOwner(rest[:len(rest)-1]) {
			_ = netlink.LinkDel(l)
		}
	}
}

var errThreadStuck = errors.New("the thread could not return to the host's network namespace")

// lockedThread runs f on a goroutine locked to its thread. When f returns
// errThreadStuck the thread stays locked and dies with the goroutine, so
// that no other goroutine runs in the wrong namespace.
func lockedThread(f func() error) error {
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

// do runs f on a thread inside the namespace. Sockets f opens stay in the
// namespace, and processes it starts run there.
func (p *podNetns) do(f func() error) error {
	return lockedThread(func() error {
		host, err := netns.Get()
		if err != nil {
			return err
		}
		defer host.Close()
		if err := netns.Set(p.handle); err != nil {
			return err
		}
		ferr := f()
		if err := netns.Set(host); err != nil {
			return errors.Join(ferr, err, errThreadStuck)
		}
		return ferr
	})
}

func (p *podNetns) listen(addr string) (net.Listener, error) {
	var l net.Listener
	err := p.do(func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	return l, err
}
