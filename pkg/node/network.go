package node

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The host-wide routing the node installs, next to one /32 route per pod:
//
//   - the node's address (the pod range's first) on the loopback device:
//     pods route through it and reach host services on it, and it is the
//     Node's InternalIP, where the API server finds the kubelet API;
//   - unreachable routes for the pod and service ranges, so that a packet
//     for an address no pod holds (or for a Service, until a later slice
//     proxies them) fails on the spot instead of following the default
//     route off the machine;
//   - policy rules that let packets from the pod range go only to the pod
//     and service ranges (and to the host's own addresses, which the local
//     table resolves first): pods have no default route, and these rules
//     keep it so even if a process in a pod adds one;
//   - for pods, the service range routed through lo in a table of the
//     node's own: a packet from a pod for a ClusterIP is then forwarded,
//     so that kube-proxy's rules in the forward hook see it (rejecting it
//     for a Service without endpoints, dropping it for an address no
//     Service has, as on any node). What no rule stops comes back in on
//     lo, where a rule ahead of the others makes it unreachable: it never
//     loops, even on a host that forwards on every link.
const (
	// ruleLoopPriority, ruleAllowPriority and ruleDenyPriority sit
	// before the main table's rule (32766).
	ruleLoopPriority  = 30999
	ruleAllowPriority = 31000
	ruleDenyPriority  = 31001
	// loLabel names the node's address in `ip addr` output.
	loLabel = "lo:flywheel"
)

// serviceTable is the routing table holding the service range's route
// for pods: the route metric's number, distinct per pod range, and never
// one of the kernel's own tables (253–255).
func serviceTable(podCIDR netip.Prefix) int { return routeMetric(podCIDR) }

// routeMetric is the metric of the node's unreachable routes. Two nodes on
// one host (say `fw local` and an integration test) share the service
// range; a metric derived from each node's own pod range makes their routes
// distinct, so that each removes exactly its own.
func routeMetric(podCIDR netip.Prefix) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(podCIDR.String()))
	return 1000 + int(h.Sum32()%50000)
}

// setUpHostNetwork installs the node-wide routing, recording each piece in
// the state right after making it: a piece another node owns (which makes
// creation fail) is never recorded, so never removed by this node.
func setUpHostNetwork(s *settings, store *stateStore) error {
	rec := &hostNetworkState{}
	save := func() error {
		return store.update(func(st *nodeState) { st.Network = rec })
	}
	if err := save(); err != nil {
		return err
	}
	if err := checkPodRangeFree(s.podCIDR); err != nil {
		return err
	}

	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(s.nodeIP, 32)), Label: loLabel}
	if err := netlink.AddrAdd(lo, addr); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("the node address %s is already on this host: is another node running with pod range %s?", s.nodeIP, s.podCIDR)
		}
		return fmt.Errorf("adding the node address %s to lo: %w", s.nodeIP, err)
	}
	rec.NodeIP = s.nodeIP.String()
	if err := save(); err != nil {
		return err
	}

	metric := routeMetric(s.podCIDR)
	for _, p := range []netip.Prefix{s.podCIDR, s.serviceCIDR} {
		r := routeRecord{Dst: p.String(), Metric: metric}
		if err := netlink.RouteAdd(r.route()); err != nil {
			return fmt.Errorf("adding an unreachable route for %s: %w", p, err)
		}
		rec.Routes = append(rec.Routes, r)
		if err := save(); err != nil {
			return err
		}
	}

	svc := &serviceRouteRecord{Dst: s.serviceCIDR.String(), Table: serviceTable(s.podCIDR)}
	if err := netlink.RouteAdd(svc.route(lo)); err != nil {
		return fmt.Errorf("routing %s through lo for pods: %w", s.serviceCIDR, err)
	}
	rec.ServiceRoute = svc
	if err := save(); err != nil {
		return err
	}

	rules := []ruleRecord{
		{Priority: ruleLoopPriority, Src: s.podCIDR.String(), Dst: s.serviceCIDR.String(), Iif: "lo", Unreachable: true},
		{Priority: ruleAllowPriority, Src: s.podCIDR.String(), Dst: s.podCIDR.String(), Table: unix.RT_TABLE_MAIN},
		{Priority: ruleAllowPriority, Src: s.podCIDR.String(), Dst: s.serviceCIDR.String(), Table: serviceTable(s.podCIDR)},
		{Priority: ruleDenyPriority, Src: s.podCIDR.String(), Unreachable: true},
	}
	for _, r := range rules {
		if err := netlink.RuleAdd(r.rule()); err != nil {
			return fmt.Errorf("adding routing rule %+v: %w", r, err)
		}
		rec.Rules = append(rec.Rules, r)
		if err := save(); err != nil {
			return err
		}
	}
	return nil
}

// checkPodRangeFree refuses a pod range that overlaps a route or an
// address already on the host: another node's range, or a real network.
// Pods there would be unreachable, or worse, shadow real hosts.
func checkPodRangeFree(podCIDR netip.Prefix) error {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 && p.Overlaps(podCIDR) {
			return fmt.Errorf("the pod range %s overlaps the route %s on this host (another node, or a real network): choose another PodCIDR", podCIDR, r)
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && podCIDR.Contains(ip.Unmap()) {
			return fmt.Errorf("the pod range %s holds the address %s of this host: choose another PodCIDR", podCIDR, a.IPNet)
		}
	}
	return nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// removeHostNetwork undoes setUpHostNetwork; pieces already gone are fine.
func removeHostNetwork(rec *hostNetworkState) error {
	var errs []error
	for _, r := range rec.Rules {
		if err := netlink.RuleDel(r.rule()); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("removing routing rule %+v: %w", r, err))
		}
	}
	for _, r := range rec.Routes {
		if err := netlink.RouteDel(r.route()); err != nil && !isGone(err) {
			errs = append(errs, fmt.Errorf("removing the unreachable route for %s: %w", r.Dst, err))
		}
	}
	if r := rec.ServiceRoute; r != nil {
		if lo, err := netlink.LinkByName("lo"); err == nil {
			if err := netlink.RouteDel(r.route(lo)); err != nil && !isGone(err) {
				errs = append(errs, fmt.Errorf("removing the route for %s through lo: %w", r.Dst, err))
			}
		}
	}
	if rec.NodeIP != "" {
		if ip, err := netip.ParseAddr(rec.NodeIP); err == nil {
			if lo, err := netlink.LinkByName("lo"); err == nil {
				err := netlink.AddrDel(lo, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(ip, 32))})
				if err != nil && !isGone(err) {
					errs = append(errs, fmt.Errorf("removing the node address %s: %w", ip, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (r routeRecord) route() *netlink.Route {
	p := netip.MustParsePrefix(r.Dst)
	return &netlink.Route{
		Dst:      ipNet(p),
		Type:     unix.RTN_UNREACHABLE,
		Priority: r.Metric,
		Table:    unix.RT_TABLE_MAIN,
		Family:   netlink.FAMILY_V4,
	}
}

func (r serviceRouteRecord) route(lo netlink.Link) *netlink.Route {
	return &netlink.Route{
		LinkIndex: lo.Attrs().Index,
		Dst:       ipNet(netip.MustParsePrefix(r.Dst)),
		Scope:     netlink.SCOPE_LINK,
		Table:     r.Table,
		Family:    netlink.FAMILY_V4,
	}
}

func (r ruleRecord) rule() *netlink.Rule {
	rule := netlink.NewRule()
	rule.Family = netlink.FAMILY_V4
	rule.Priority = r.Priority
	if r.Src != "" {
		rule.Src = ipNet(netip.MustParsePrefix(r.Src))
	}
	if r.Dst != "" {
		rule.Dst = ipNet(netip.MustParsePrefix(r.Dst))
	}
	rule.IifName = r.Iif
	if r.Unreachable {
		rule.Type = unix.RTN_UNREACHABLE
	} else {
		rule.Table = r.Table
	}
	return rule
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// isGone reports whether a removal failed because the thing was already
// gone.
func isGone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, os.ErrNotExist) || errors.As(err, &nf)
}
