package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// hostPorts are the pod's TCP container ports with a hostPort. hostNetwork
// pods need no forwarding: their processes bind the host's ports
// themselves.
func hostPorts(pod *corev1.Pod) []corev1.ContainerPort {
	if pod.Spec.HostNetwork {
		return nil
	}
	var out []corev1.ContainerPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort > 0 && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
				out = append(out, p)
			}
		}
	}
	return out
}

// hostPortForwarder is the sandbox part that makes hostPorts work without
// iptables: a TCP listener on the host (127.0.0.1, or the port's hostIP)
// per port, relayed to the pod's IP and container port.
type hostPortForwarder struct {
	ports  []corev1.ContainerPort
	logger *slog.Logger
	relay  *relay
}

func (f *hostPortForwarder) setUp(_ context.Context, sb *sandbox) error {
	f.relay = newRelay(f.logger)
	for _, p := range f.ports {
		host := p.HostIP
		if host == "" {
			host = "127.0.0.1"
		}
		addr := net.JoinHostPort(host, strconv.Itoa(int(p.HostPort)))
		target := net.JoinHostPort(sb.ip.String(), strconv.Itoa(int(p.ContainerPort)))
		if err := f.relay.listen(addr, target); err != nil {
			return fmt.Errorf("hostPort %d: %w", p.HostPort, err)
		}
	}
	return nil
}

func (f *hostPortForwarder) tearDown(*sandbox) error {
	if f.relay != nil {
		f.relay.close()
	}
	return nil
}
