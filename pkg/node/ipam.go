package node

import (
	"fmt"
	"net/netip"
	"sync"
)

// ipam hands out pod addresses from the node's range, one /32 per pod. A
// /32 with a host route per pod wastes no addresses on link networks and
// needs no bridge: the host routes between pods as it routes to them.
//
// Addresses are handed out round-robin rather than lowest-first so that a
// deleted pod's address is not reused at once, while clients (probes,
// proxies, test loops) may still hold connections or cached endpoints for it.
type ipam struct {
	prefix netip.Prefix

	mu   sync.Mutex
	used map[netip.Addr]string // address → owner (pod UID)
	last netip.Addr
}

func newIPAM(prefix netip.Prefix, nodeIP netip.Addr) *ipam {
	return &ipam{
		prefix: prefix,
		used:   map[netip.Addr]string{},
		// The first candidate is the address after the node's own.
		last: nodeIP,
	}
}

// allocate returns a free address for owner.
func (a *ipam) allocate(owner string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ip, o := range a.used {
		if o == owner {
			return ip, nil
		}
	}
	ip := a.last
	for {
		ip = a.next(ip)
		if _, taken := a.used[ip]; !taken {
			a.used[ip] = owner
			a.last = ip
			return ip, nil
		}
		if ip == a.last {
			return netip.Addr{}, fmt.Errorf("no free address left in the pod range %s (%d pods)", a.prefix, len(a.used))
		}
	}
}

// next is the usable address after ip, wrapping around: the network
// address, the node's address (the first after it) and the broadcast
// address are never handed out.
func (a *ipam) next(ip netip.Addr) netip.Addr {
	ip = ip.Next()
	if !a.prefix.Contains(ip) || isBroadcast(a.prefix, ip) {
		// Back to the first pod address: network + 2.
		ip = a.prefix.Addr().Next().Next()
	}
	return ip
}

// release frees ip; releasing an address not in use is a no-op.
func (a *ipam) release(ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, ip)
}

func isBroadcast(p netip.Prefix, ip netip.Addr) bool {
	b := ip.As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<hostBits - 1
	return v&mask == mask
}
