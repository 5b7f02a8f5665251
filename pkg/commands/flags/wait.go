package flags

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"flywheel.dev/pkg/commands/wait"
)

// DefaultWaitTimeout is how long a command waits for readiness unless
// told otherwise.
const DefaultWaitTimeout = 5 * time.Minute

const (
	waitFlag        = "wait"
	noWaitFlag      = "no-wait"
	waitTimeoutFlag = "wait-timeout"
	waitWindowFlag  = "wait-window"
)

// WaitFlags are --wait, --no-wait, --wait-timeout and, on the commands
// that wait for readiness, --wait-window.
type WaitFlags struct {
	wait    bool
	noWait  bool
	Timeout time.Duration
	// Window is how long a Ready False must last to count as a failure.
	Window time.Duration
	set    *pflag.FlagSet
}

// Add registers the flags on fs; waitByDefault chooses whether the
// command waits when neither --wait nor --no-wait is given.
func (w *WaitFlags) Add(fs *pflag.FlagSet, what string, waitByDefault bool) {
	w.set = fs
	w.Window = wait.DefaultErrorWindow
	fs.BoolVar(&w.wait, waitFlag, waitByDefault, "wait until "+what)
	fs.BoolVar(&w.noWait, noWaitFlag, !waitByDefault, "do not wait: the opposite of --wait")
	w.Timeout = DefaultWaitTimeout
	fs.Var(seconds{&w.Timeout}, waitTimeoutFlag, "how long --wait waits before it gives up: seconds, as kn takes it (300), or a duration (5m)")
}

// AddErrorWindow registers --wait-window, for a command that waits for
// readiness.
func (w *WaitFlags) AddErrorWindow(fs *pflag.FlagSet) {
	fs.Var(seconds{&w.Window}, waitWindowFlag,
		"how long the Ready condition must read False before --wait gives up: seconds, as kn takes it (2), or a duration (2s); a False that heals sooner is a step on the way")
}

// Wait reports whether to wait, refusing --wait with --no-wait.
func (w *WaitFlags) Wait() (bool, error) {
	if w.set.Changed(waitFlag) && w.set.Changed(noWaitFlag) && w.wait == w.noWait {
		return false, errors.New("--wait and --no-wait contradict each other: give one of them")
	}
	if w.Timeout <= 0 {
		return false, fmt.Errorf("--%s %v: give a positive duration, e.g. --%s 2m", waitTimeoutFlag, w.Timeout, waitTimeoutFlag)
	}
	if w.Window < 0 {
		return false, fmt.Errorf("--%s %v: give 0 (fail at the first False) or more, e.g. --%s 2", waitWindowFlag, w.Window, waitWindowFlag)
	}
	if w.set.Changed(noWaitFlag) {
		return !w.noWait, nil
	}
	return w.wait, nil
}

// WaitTimeout returns how long to wait: the timeout when waiting, 0
// when not.
func (w *WaitFlags) WaitTimeout() (time.Duration, error) {
	wait, err := w.Wait()
	if err != nil || !wait {
		return 0, err
	}
	return w.Timeout, nil
}

// Bounds are the timeout and the error window, for the wait package.
func (w *WaitFlags) Bounds() wait.Bounds {
	return wait.Bounds{Timeout: w.Timeout, ErrorWindow: w.Window}
}

// seconds is a duration flag that also takes a bare number of seconds,
// as kn's --wait-timeout 300 does, so that a kn command line works.
type seconds struct{ d *time.Duration }

func (s seconds) Set(v string) error {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		*s.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds (300) or a duration (5m, 90s)")
	}
	*s.d = d
	return nil
}

func (s seconds) String() string { return s.d.String() }

func (s seconds) Type() string { return "duration" }
