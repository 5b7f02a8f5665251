//go:build !linux

package intercept

import (
	"errors"
	"net/netip"
)

// getOriginalDst fails: SO_ORIGINAL_DST is Linux's netfilter.
func getOriginalDst(int) (netip.AddrPort, error) {
	return netip.AddrPort{}, errors.New("SO_ORIGINAL_DST needs Linux")
}
