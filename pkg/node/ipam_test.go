package node

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIPAM(t *testing.T) {
	prefix := netip.MustParsePrefix("10.244.7.0/29") // .0 network, .1 node, .7 broadcast
	a := newIPAM(prefix, netip.MustParseAddr("10.244.7.1"))
	var got []string
	for _, owner := range []string{"a", "b", "c", "d", "e"} {
		ip, err := a.allocate(owner)
		if err != nil {
			t.Fatalf("allocating for %s: %v", owner, err)
		}
		got = append(got, ip.String())
	}
	if diff := cmp.Diff([]string{"10.244.7.2", "10.244.7.3", "10.244.7.4", "10.244.7.5", "10.244.7.6"}, got); diff != "" {
		t.Errorf("addresses (-want, +got):\n%s", diff)
	}
	if ip, err := a.allocate("a"); err != nil || ip.String() != "10.244.7.2" {
		t.Errorf("allocating again for the same owner: %v, %v; want its address", ip, err)
	}
	if _, err := a.allocate("f"); err == nil {
		t.Error("allocated from a full range")
	}
	// Freed addresses come back round-robin: .3 before .2.
	a.release(netip.MustParseAddr("10.244.7.2"))
	a.release(netip.MustParseAddr("10.244.7.3"))
	for _, want := range []string{"10.244.7.2", "10.244.7.3"} {
		ip, err := a.allocate("g" + want)
		if err != nil || ip.String() != want {
			t.Errorf("allocate() = %v, %v; want %s", ip, err, want)
		}
	}
}

func TestIsBroadcast(t *testing.T) {
	p := netip.MustParsePrefix("10.244.0.0/16")
	for addr, want := range map[string]bool{"10.244.255.255": true, "10.244.255.254": false, "10.244.1.255": false} {
		if got := isBroadcast(p, netip.MustParseAddr(addr)); got != want {
			t.Errorf("isBroadcast(%s) = %t, want %t", addr, got, want)
		}
	}
}
