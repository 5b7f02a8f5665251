package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPodAddrs gives every pod its own address in podNet, after the
// network's first, and none twice.
func TestPodAddrs(t *testing.T) {
	f := fleet{Revisions: 300, Pods: 3}
	if diff := cmp.Diff([]string{"127.100.0.1", "127.100.0.2", "127.100.0.3"}, f.podIPs(0)); diff != "" {
		t.Errorf("podIPs(0) (-want, +got):\n%s", diff)
	}
	if got, want := f.podAddr(299, 2), netip.MustParseAddr("127.100.3.132"); got != want {
		t.Errorf("podAddr(299, 2) = %s, want %s", got, want)
	}
	seen := map[netip.Addr]bool{}
	for r := range f.Revisions {
		for j := range f.Pods {
			a := f.podAddr(r, j)
			if seen[a] || !podNet.Contains(a) || a == podNet.Addr() {
				t.Fatalf("podAddr(%d, %d) = %s: taken already, outside %s or its first address", r, j, a, podNet)
			}
			seen[a] = true
		}
	}
	if got, want := f.statsURL(0, 0), "http://127.100.0.1:9090/stats"; got != want {
		t.Errorf("statsURL(0, 0) = %q, want %q", got, want)
	}
}

func TestFleetValidate(t *testing.T) {
	for _, tc := range []struct {
		f  fleet
		ok bool
	}{
		{fleet{Revisions: 1000, Pods: 3}, true},
		{fleet{Revisions: 6553, Pods: 10}, true},
		{fleet{Revisions: 6554, Pods: 10}, false},
		{fleet{Revisions: 0, Pods: 3}, false},
	} {
		if err := tc.f.validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: validate() = %v, want ok %t", tc.f, err, tc.ok)
		}
	}
}

// TestConcurrency keeps idle Revisions idle and the others loaded, never
// below half their mean, with a pod's siblings out of phase.
func TestConcurrency(t *testing.T) {
	f := fleet{Revisions: 20, Pods: 3}
	for _, at := range []time.Duration{0, 7 * time.Second, 45 * time.Second} {
		if got := f.concurrency(9, 0, at); got != 0 {
			t.Errorf("concurrency of idle Revision 9 at %s = %v, want 0", at, got)
		}
		for r := range 9 {
			if got := f.concurrency(r, 0, at); got < 0.25 || got > 12 {
				t.Errorf("concurrency(%d, 0, %s) = %v, want within [0.25, 12]", r, at, got)
			}
		}
	}
	if a, b := f.concurrency(1, 0, 0), f.concurrency(1, 1, 0); a == b {
		t.Errorf("pods 0 and 1 of Revision 1 both have %v in flight at 0: want them out of phase", a)
	}
}

func TestRoundAtRandom(t *testing.T) {
	for _, tc := range []struct {
		x, u float64
		want int
	}{
		{x: 2.3, u: 0.2, want: 3},
		{x: 2.3, u: 0.5, want: 2},
		{x: 0, u: 0, want: 0},
		{x: 4, u: 0.99, want: 4},
	} {
		if got := roundAtRandom(tc.x, tc.u); got != tc.want {
			t.Errorf("roundAtRandom(%v, %v) = %d, want %d", tc.x, tc.u, got, tc.want)
		}
	}
}
