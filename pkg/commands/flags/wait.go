package flags

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// DefaultWaitTimeout is how long a command waits for readiness unless
// told otherwise.
const DefaultWaitTimeout = 5 * time.Minute

// WaitFlags are --wait, --no-wait and --wait-timeout.
type WaitFlags struct {
	wait    bool
	noWait  bool
	Timeout time.Duration
	set     *pflag.FlagSet
}

// Add registers the flags on fs; waitByDefault chooses whether the
// command waits when neither --wait nor --no-wait is given.
func (w *WaitFlags) Add(fs *pflag.FlagSet, what string, waitByDefault bool) {
	w.set = fs
	fs.BoolVar(&w.wait, "wait", waitByDefault, "wait until "+what)
	fs.BoolVar(&w.noWait, "no-wait", !waitByDefault, "do not wait: the opposite of --wait")
	fs.DurationVar(&w.Timeout, "wait-timeout", DefaultWaitTimeout, "how long --wait waits before it gives up")
}

// Wait reports whether to wait, refusing --wait with --no-wait.
func (w *WaitFlags) Wait() (bool, error) {
	if w.set.Changed("wait") && w.set.Changed("no-wait") && w.wait == w.noWait {
		return false, errors.New("--wait and --no-wait contradict each other: give one of them")
	}
	if w.Timeout <= 0 {
		return false, fmt.Errorf("--wait-timeout %v: give a positive duration, e.g. --wait-timeout 2m", w.Timeout)
	}
	if w.set.Changed("no-wait") {
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
