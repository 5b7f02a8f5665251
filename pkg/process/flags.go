package process

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes of a component's Main.
const (
	ExitOK = 0
	// ExitFailed: the component could not start, or stopped on an error.
	ExitFailed = 1
	// ExitUsage: a flag or the environment is wrong; the message names
	// which.
	ExitUsage = 2
)

// Flags are the flags the long-running components share.
type Flags struct {
	// Kubeconfig is the kubeconfig file; empty uses the in-cluster
	// configuration.
	Kubeconfig string
	// AdminAddress serves /livez, /readyz and /healthz.
	AdminAddress string
	// DrainWindow is how long to keep serving, reporting not ready,
	// after SIGTERM. Zero on the command line means none.
	DrainWindow time.Duration
	// ShutdownTimeout bounds the wait for requests in flight after the
	// drain window.
	ShutdownTimeout time.Duration
}

// Register adds the flags to fs, with the component's defaults.
func (f *Flags) Register(fs *flag.FlagSet, defaults Flags) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", defaults.Kubeconfig, "kubeconfig file; empty uses the in-cluster configuration")
	fs.StringVar(&f.AdminAddress, "admin-address", defaults.AdminAddress, "address of /livez, /readyz and /healthz")
	fs.DurationVar(&f.DrainWindow, "drain-window", defaults.DrainWindow, "how long to keep serving, reporting not ready, after SIGTERM")
	fs.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", defaults.ShutdownTimeout, "how long to wait for requests in flight after the drain window")
}

// ConfigDrainWindow returns the drain window in the form the components'
// Configs take it, where zero means their default and a negative window
// none: a --drain-window=0 means what it says.
func (f *Flags) ConfigDrainWindow() time.Duration {
	if f.DrainWindow == 0 {
		return -1
	}
	return f.DrainWindow
}

// Parse parses args with fs, which writes any error, naming the flag, to
// its output. It returns false with the exit code when the process is
// to stop: ExitOK after -help, ExitUsage after a bad flag.
func Parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	return ExitOK, true
}

// NewLogger returns the components' logger: JSON lines on w, their
// stderr.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// SignalContext returns a context done at the first SIGTERM (the
// kubelet's stop) or SIGINT (^C). The stop function lets a second signal
// kill the process the default way.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

// ExitCode returns the exit code of a component whose run ended with err,
// logging err first as the reason the component failed.
func ExitCode(log *slog.Logger, component string, err error) int {
	if err != nil {
		log.Error(component+" failed", "error", err)
		return ExitFailed
	}
	return ExitOK
}
