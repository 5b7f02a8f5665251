package controlplane

import (
	"errors"
	"fmt"
	"net"
)

// errPortInUse marks a start that failed because another program bound
// one of the chosen ports between choosing it and the process binding it;
// Start retries with new ports.
var errPortInUse = errors.New("a chosen port was taken by another program")

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. All listeners stay open until every port is chosen, so the
// kernel cannot hand out the same port twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
