package controlplane

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// errPortInUse marks a start that failed because another program bound
// one of the chosen ports between choosing it and the process binding it;
// Start retries with new ports.
var errPortInUse = errors.New("a chosen port was taken by another program")

// lowestPickedPort is the lowest port FreePorts hands out: above the ports
// services are configured on by hand, Kubernetes' own node ports
// (10248–10260) among them. The local cluster's kube-proxy runs in the
// host's network and binds 127.0.0.1:10256 and :10249 after the control
// plane has its ports; an API server that drew 10256 once kept kube-proxy
// from ever becoming ready.
const lowestPickedPort = 11000

// reservedPorts are ports above lowestPickedPort that the local cluster
// binds on the host at fixed numbers after the control plane starts:
// Jaeger's UI, a hostPort (config/tracing).
var reservedPorts = map[int]bool{16686: true}

// ephemeralPortsFile holds the range the kernel picks the local ports of
// outgoing connections from.
const ephemeralPortsFile = "/proc/sys/net/ipv4/ip_local_port_range"

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. They lie below the kernel's ephemeral range: a port from
// that range can be taken by any outgoing connection (the API server's to
// etcd, a client's) between choosing it and binding it, which is how a
// chosen port was once found taken seconds later. All listeners stay
// open until every port is chosen, so no port is handed out twice.
func FreePorts(n int) ([]int, error) {
	return freePorts(n, false)
}

// FreeConsecutivePorts returns the first of n consecutive TCP ports on
// 127.0.0.1 that were all free a moment ago, chosen as FreePorts chooses.
func FreeConsecutivePorts(n int) (int, error) {
	ports, err := freePorts(n, true)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

func freePorts(n int, consecutive bool) ([]int, error) {
	hi := ephemeralLow() - 1
	if consecutive {
		hi -= n - 1
	}
	if hi < lowestPickedPort {
		return nil, fmt.Errorf("no room for %d ports between %d and the ephemeral range (%s)", n, lowestPickedPort, ephemeralPortsFile)
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	listen := func(port int) bool {
		if reservedPorts[port] {
			return false
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return false
		}
		listeners = append(listeners, l)
		return true
	}
	ports := make([]int, 0, n)
	for range 1000 {
		first := lowestPickedPort + rand.IntN(hi-lowestPickedPort+1)
		if !consecutive {
			if listen(first) {
				ports = append(ports, first)
				if len(ports) == n {
					return ports, nil
				}
			}
			continue
		}
		held := len(listeners)
		run := 0
		for run < n && listen(first+run) {
			run++
		}
		if run == n {
			for p := range n {
				ports = append(ports, first+p)
			}
			return ports, nil
		}
		for _, l := range listeners[held:] {
			_ = l.Close()
		}
		listeners = listeners[:held]
	}
	return nil, fmt.Errorf("found no %d free ports on 127.0.0.1 between %d and %d", n, lowestPickedPort, hi)
}

// ephemeralLow is the first port of the kernel's ephemeral range, or
// Linux's default when the range cannot be read.
func ephemeralLow() int {
	const linuxDefault = 32768
	b, err := os.ReadFile(ephemeralPortsFile)
	if err != nil {
		return linuxDefault
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return linuxDefault
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= lowestPickedPort {
		return linuxDefault
	}
	return low
}
