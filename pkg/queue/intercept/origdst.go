package intercept

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// errNotIPv4 is the error for connections the rules cannot have
// redirected: they are IPv4 only.
var errNotIPv4 = errors.New("not an IPv4 connection: only IPv4 is redirected")

// OriginalDst returns the address and port c's client connected to before
// iptables redirected it: getsockopt(SOL_IP, SO_ORIGINAL_DST), which reads
// the kernel's connection tracking. A connection that was not redirected
// but is tracked has its own local address as original destination; one
// that is not tracked has none, and OriginalDst fails. For a connection
// returned by a Listener it returns what the Listener read.
func OriginalDst(c net.Conn) (netip.AddrPort, error) {
	if r, ok := c.(redirected); ok {
		return r.originalDst(), nil
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("reading the original destination of a %T: not a socket", c)
	}
	// A dual-stack listener (":port") accepts IPv4 clients as IPv4-mapped
	// IPv6 addresses; SOL_IP still answers for those.
	if local, ok := c.LocalAddr().(*net.TCPAddr); !ok || local.IP.To4() == nil {
		return netip.AddrPort{}, fmt.Errorf("reading the original destination of %s: %w", c.LocalAddr(), errNotIPv4)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reading the original destination: %w", err)
	}
	var dst netip.AddrPort
	var serr error
	if err := raw.Control(func(fd uintptr) { dst, serr = getOriginalDst(int(fd)) }); err != nil {
		return netip.AddrPort{}, fmt.Errorf("reading the original destination: %w", err)
	}
	if serr != nil {
		return netip.AddrPort{}, fmt.Errorf("reading the original destination (SO_ORIGINAL_DST): %w", serr)
	}
	return dst, nil
}
