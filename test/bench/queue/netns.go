package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// sandboxPrefix starts the name of every network namespace the benchmark
// makes, followed by the harness's pid and a counter, so that a later run
// can remove what a killed one left behind.
const sandboxPrefix = "fwbench"

// sandbox is a network namespace standing in for a transparent-mode pod:
// loopback, and a veth whose pod end (eth0) has the pod's IP and whose host
// end lets the harness reach the pod's ports.
type sandbox struct {
	name     string
	hostLink string
	// ip is the pod's address.
	ip string
}

var sandboxCount atomic.Int64

// newSandbox makes a sandbox with the `ip` tool. Its /30 comes from
// 10.251.0.0/16, apart from the range pkg/local's sandboxes use.
func newSandbox(ctx context.Context) (*sandbox, error) {
	n := int(sandboxCount.Add(1))
	pid := os.Getpid()
	slot := (pid*7 + n) % 16384
	third, fourth := slot>>6, (slot&63)<<2
	s := &sandbox{
		name:     fmt.Sprintf("%s-%d-%d", sandboxPrefix, pid, n),
		hostLink: fmt.Sprintf("fwb%dh%d", pid%100000, n),
		ip:       fmt.Sprintf("10.251.%d.%d", third, fourth+2),
	}
	hostIP := fmt.Sprintf("10.251.%d.%d/30", third, fourth+1)
	steps := [][]string{
		{"netns", "add", s.name},
		{"-n", s.name, "link", "set", "lo", "up"},
		{"link", "add", s.hostLink, "type", "veth", "peer", "name", "eth0", "netns", s.name},
		{"addr", "add", hostIP, "dev", s.hostLink},
		{"link", "set", s.hostLink, "up"},
		{"-n", s.name, "addr", "add", s.ip + "/30", "dev", "eth0"},
		{"-n", s.name, "link", "set", "eth0", "up"},
	}
	for _, args := range steps {
		if err := ip(ctx, args...); err != nil {
			s.close()
			return nil, fmt.Errorf("making network namespace %s: %w", s.name, err)
		}
	}
	return s, nil
}

// close removes the namespace, and with it the veth. Its processes must
// have ended: a namespace with processes in it outlives its name.
func (s *sandbox) close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ip(ctx, "netns", "del", s.name)
	_ = ip(ctx, "link", "del", s.hostLink)
}

func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sweepSandboxes removes the namespaces of harnesses that no longer run,
// ending the processes those harnesses left in them.
func sweepSandboxes(ctx context.Context) {
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		parts := strings.Split(e.Name(), "-")
		if len(parts) != 3 || parts[0] != sandboxPrefix {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", e.Name()).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if p, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		_ = ip(ctx, "netns", "del", e.Name())
	}
}

// checkTransparent reports what the transparent variant lacks on this
// host, if anything.
func checkTransparent() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("it needs root to make a network namespace and install iptables rules"))
	}
	for _, tool := range []string{"ip", "iptables", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			errs = append(errs, fmt.Errorf("it needs %s (hack/ensure-host.sh installs what is missing)", tool))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the transparent variant cannot run here: %w; or leave it out with --variants direct,baseline,port", err)
	}
	return nil
}
