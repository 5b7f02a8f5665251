package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"flywheel.dev/pkg/node"
)

// processGrace is how long Down waits for a component it signalled to
// exit before it kills it.
const processGrace = 10 * time.Second

// pollInterval is how often Down looks whether a process has exited.
const pollInterval = 100 * time.Millisecond

// Down stops the Flywheel recorded in the work directory dir and reports
// on out what it stopped and removed. When its owner runs, Down sends it
// SIGTERM and waits up to timeout for it to exit (it removes everything
// itself); when the owner is gone (crashed, killed), Down removes what it
// left: the recorded processes that still run, the node's pods and
// routing, the sandboxes, the control plane's data and the state file.
// With no state it returns an error wrapping ErrNoState.
func Down(ctx context.Context, dir string, timeout time.Duration, out io.Writer) error {
	st, err := ReadState(dir)
	if err != nil {
		return err
	}
	if st.Running() {
		if err := stopOwner(ctx, st, timeout, out); err != nil {
			return err
		}
		// A clean exit removed the state file. One that is still there
		// (the owner crashed while stopping) lists what may be left.
		if st, err = ReadState(dir); errors.Is(err, ErrNoState) {
			return nil
		} else if err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "Flywheel (pid %d) is no longer running; removing what it left.\n", st.Owner.PID)
	}
	return sweep(st, dir, out)
}

// stopOwner sends SIGTERM to the process that runs Flywheel and waits for
// it to exit.
func stopOwner(ctx context.Context, st *State, timeout time.Duration, out io.Writer) error {
	fmt.Fprintf(out, "Stopping Flywheel (pid %d)...\n", st.Owner.PID)
	if err := syscall.Kill(st.Owner.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling pid %d: %w", st.Owner.PID, err)
	}
	if !waitExit(ctx, st.Owner, timeout) {
		var running []string
		if st.Owner.Running() {
			running = append(running, fmt.Sprintf("fw (pid %d)", st.Owner.PID))
		}
		for _, c := range st.Components {
			if !c.InProcess && c.Process.Running() {
				running = append(running, fmt.Sprintf("%s (pid %d)", c.Name, c.Process.PID))
			}
		}
		return fmt.Errorf("fw local up (pid %d) has not stopped within %v; still running: %s; run fw local down again to wait longer",
			st.Owner.PID, timeout, strings.Join(running, ", "))
	}
	fmt.Fprintf(out, "Stopped Flywheel (pid %d); it removed what it started.\n", st.Owner.PID)
	return nil
}

// waitExit waits up to timeout for p to stop running; it reports whether
// it did.
func waitExit(ctx context.Context, p Process, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.Running() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return !p.Running()
		}
		time.Sleep(pollInterval)
	}
	return true
}

// StopProcess ends the recorded process, and nothing else: only when its
// pid still runs the recorded executable since the recorded start time
// does it get SIGTERM, and SIGKILL after grace. It reports whether it
// signalled anything.
func StopProcess(p Process, grace time.Duration) bool {
	if !p.Running() {
		return false
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitExit(context.Background(), p, grace) {
		return true
	}
	// Checked again right before: the pid may have been freed meanwhile.
	if p.Running() {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
		waitExit(context.Background(), p, grace)
	}
	return true
}

// sweep removes what the dead owner of st left: the recorded processes
// that still run, last started first, the node's state, the sandboxes,
// the control plane's temporary data and the state file of dir.
func sweep(st *State, dir string, out io.Writer) error {
	var errs []error
	for i := len(st.Components) - 1; i >= 0; i-- {
		c := st.Components[i]
		if !c.InProcess && StopProcess(c.Process, processGrace) {
			fmt.Fprintf(out, "Stopped %s (pid %d).\n", c.Name, c.Process.PID)
		}
	}
	if st.NodeDataDir != "" {
		if err := node.Sweep(st.NodeDataDir); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(out, "Swept the node's pods, network namespaces, links, routes and rules (%s).\n", st.NodeDataDir)
		}
	}
	if st.KubeProxy != "" {
		if err := CleanUpKubeProxy(context.Background(), st.KubeProxy); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintln(out, "Removed kube-proxy's nftables and iptables rules.")
		}
	}
	removed, err := SweepSandboxes(st.Sandboxes)
	errs = append(errs, err)
	for _, r := range removed {
		fmt.Fprintf(out, "Removed %s.\n", r)
	}
	if d := st.ControlPlaneTempDir; d != "" {
		if _, err := os.Stat(d); err == nil {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			} else {
				fmt.Fprintf(out, "Removed the control plane's data directory %s.\n", d)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the state file %s is kept for another try: %w", StatePath(dir), err)
	}
	if err := os.Remove(StatePath(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Fprintf(out, "Removed %s.\n", StatePath(dir))
	return nil
}
