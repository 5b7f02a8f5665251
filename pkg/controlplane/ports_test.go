package controlplane

import (
	"fmt"
	"net"
	"testing"
)

func TestFreePortsAreDistinctBindableAndBelowTheEphemeralRange(t *testing.T) {
	const n = 16
	ports, err := FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != n {
		t.Fatalf("FreePorts(%d) returned %d ports", n, len(ports))
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
		if p < lowestPickedPort || p >= ephemeralLow() {
			t.Errorf("port %d is outside [%d, %d)", p, lowestPickedPort, ephemeralLow())
		}
		assertBindable(t, p)
	}
}

func TestFreeConsecutivePorts(t *testing.T) {
	first, err := FreeConsecutivePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	if first < lowestPickedPort || first+2 >= ephemeralLow() {
		t.Errorf("ports %d-%d are outside [%d, %d)", first, first+2, lowestPickedPort, ephemeralLow())
	}
	for p := first; p < first+3; p++ {
		assertBindable(t, p)
	}
}

func assertBindable(t *testing.T, port int) {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("port %d is not free after it was returned: %v", port, err)
		return
	}
	_ = l.Close()
}
