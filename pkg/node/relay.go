package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// relay copies TCP connections from host listeners to a target each:
// what makes hostPorts and the API server's address for pods work
// without iptables.
type relay struct {
	logger *slog.Logger

	mu        sync.Mutex
	listeners []net.Listener
	// conns are the open connections; nil once the relay is closed.
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newRelay(logger *slog.Logger) *relay {
	return &relay{logger: logger, conns: map[net.Conn]struct{}{}}
}

// listen accepts connections on addr and copies each to target, until
// close.
func (r *relay) listen(addr, target string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.conns == nil {
		r.mu.Unlock()
		_ = l.Close()
		return fmt.Errorf("relay to %s: already closed", target)
	}
	r.listeners = append(r.listeners, l)
	r.mu.Unlock()
	r.wg.Go(func() { r.serve(l, target) })
	return nil
}

func (r *relay) serve(l net.Listener, target string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return // closed by close
		}
		if !r.track(in, true) {
			_ = in.Close()
			return
		}
		r.wg.Go(func() {
			defer r.track(in, false)
			defer in.Close()
			out, err := r.dial(target)
			if err != nil {
				r.logger.Debug("relay: dialling the target", "target", target, "error", err)
				return
			}
			if !r.track(out, true) {
				_ = out.Close()
				return
			}
			defer r.track(out, false)
			defer out.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); closeWrite(out); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); closeWrite(in); done <- struct{}{} }()
			<-done
			<-done
		})
	}
}

// dialPatience is how long a connection waits for a target that refuses:
// a container restarting in its pod (a gateway that crashed) listens again
// within it, and the client's connection is then relayed rather than cut,
// as a load balancer in front of the pod would retry.
const dialPatience = 5 * time.Second

// dial connects to target, trying again while it refuses connections,
// for up to dialPatience or until the relay is closed.
func (r *relay) dial(target string) (net.Conn, error) {
	deadline := time.Now().Add(dialPatience)
	wait := 10 * time.Millisecond
	for first := true; ; first = false {
		out, err := net.DialTimeout("tcp", target, dialPatience)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().Add(wait).After(deadline) || r.closed() {
			return out, err
		}
		if first {
			r.logger.Debug("relay: the target refuses; waiting for it", "target", target)
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// closed reports whether close has begun.
func (r *relay) closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns == nil
}

// track adds or removes an open connection; it refuses new ones once the
// relay is closed.
func (r *relay) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !add {
		delete(r.conns, c)
		return true
	}
	if r.conns == nil {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

// close stops listening, cuts every open connection and waits for the
// copies to end.
func (r *relay) close() {
	r.mu.Lock()
	for _, l := range r.listeners {
		_ = l.Close()
	}
	for c := range r.conns {
		_ = c.Close()
	}
	r.listeners, r.conns = nil, nil
	r.mu.Unlock()
	r.wg.Wait()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
