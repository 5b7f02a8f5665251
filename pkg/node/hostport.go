package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

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
// per port, copying each connection to the pod's IP and container port.
type hostPortForwarder struct {
	ports  []corev1.ContainerPort
	logger *slog.Logger

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

func (f *hostPortForwarder) setUp(_ context.Context, sb *sandbox) error {
	f.conns = map[net.Conn]struct{}{}
	for _, p := range f.ports {
		host := p.HostIP
		if host == "" {
			host = "127.0.0.1"
		}
		addr := net.JoinHostPort(host, strconv.Itoa(int(p.HostPort)))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("hostPort %d: %w", p.HostPort, err)
		}
		f.mu.Lock()
		f.listeners = append(f.listeners, l)
		f.mu.Unlock()
		target := net.JoinHostPort(sb.ip.String(), strconv.Itoa(int(p.ContainerPort)))
		f.wg.Go(func() { f.serve(l, target) })
	}
	return nil
}

func (f *hostPortForwarder) serve(l net.Listener, target string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return // closed by tearDown
		}
		if !f.track(in, true) {
			_ = in.Close()
			return
		}
		f.wg.Go(func() {
			defer f.track(in, false)
			defer in.Close()
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				f.logger.Debug("hostPort: dialling the pod", "target", target, "error", err)
				return
			}
			if !f.track(out, true) {
				_ = out.Close()
				return
			}
			defer f.track(out, false)
			defer out.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); closeWrite(out); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); closeWrite(in); done <- struct{}{} }()
			<-done
			<-done
		})
	}
}

// track adds or removes an open connection; it refuses new ones once the
// forwarder is being torn down.
func (f *hostPortForwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !add {
		delete(f.conns, c)
		return true
	}
	if f.conns == nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *hostPortForwarder) tearDown(*sandbox) error {
	f.mu.Lock()
	for _, l := range f.listeners {
		_ = l.Close()
	}
	for c := range f.conns {
		_ = c.Close()
	}
	f.listeners, f.conns = nil, nil
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
