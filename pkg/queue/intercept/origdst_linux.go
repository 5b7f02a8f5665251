package intercept

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// getOriginalDst asks netfilter for the IPv4 original destination of the
// socket fd. x/sys/unix has no getsockopt for a struct sockaddr_in, so
// this makes the system call itself.
func getOriginalDst(fd int) (netip.AddrPort, error) {
	var sa unix.RawSockaddrInet4
	size := uint32(unsafe.Sizeof(sa))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST,
		uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return netip.AddrPort{}, errno
	}
	// sin_port is in network byte order whatever the host's.
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1])), nil
}
