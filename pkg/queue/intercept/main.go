package intercept

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"flywheel.dev/pkg/queue"
)

// commandTimeout bounds `queue iptables`, the wait for the xtables lock
// included: an init container that hangs would keep the pod from ever
// starting without saying why.
const commandTimeout = time.Minute

// Main runs `queue iptables` with args, the words after the subcommand,
// and returns the process's exit code: 0 done, 1 iptables failed, 2 bad
// usage. It installs the transparent-mode rules, or removes them with
// --remove.
func Main(args []string, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr, IPTables)
}

func run(args []string, stdout, stderr io.Writer, iptables Runner) int {
	name := "queue " + queue.IPTablesCommand
	c, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n\n", name, err)
		usage(stderr)
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if c.remove {
		if err := Remove(ctx, iptables); err != nil {
			fmt.Fprintf(stderr, "%s: removing the transparent-mode rules: %v\n", name, err)
			return 1
		}
		fmt.Fprintln(stdout, "removed the transparent-mode rules")
		return 0
	}
	if err := Install(ctx, c.opts, iptables); err != nil {
		fmt.Fprintf(stderr, "%s: installing the transparent-mode rules: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stdout, "redirecting inbound TCP port %d to %d:\n", c.opts.AppPort, c.opts.InterceptPort)
	for _, r := range Rules(c.opts) {
		fmt.Fprintf(stdout, "  iptables %s\n", strings.Join(r, " "))
	}
	return 0
}

// command is what the flags ask for.
type command struct {
	opts   Options
	remove bool
}

func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("queue "+queue.IPTablesCommand, flag.ContinueOnError)
	// Errors are printed once, by run, with the usage after them.
	fs.SetOutput(io.Discard)
	fs.IntVar(&c.opts.AppPort, queue.IPTablesFlagAppPort, 0,
		"the app's `port`, whose inbound TCP is redirected (required unless --"+queue.IPTablesFlagRemove+")")
	fs.IntVar(&c.opts.InterceptPort, queue.IPTablesFlagInterceptPort, queue.InterceptPort,
		"the sidecar's `port` that receives the redirected connections")
	fs.IntVar(&c.opts.ExcludeUID, queue.IPTablesFlagExcludeUID, queue.SidecarUID,
		"the `uid` whose connections are never redirected: the sidecar's; negative for none")
	fs.BoolVar(&c.remove, queue.IPTablesFlagRemove, false,
		"remove the rules instead of installing them")
	return fs
}

func parseArgs(args []string) (command, error) {
	var c command
	fs := newFlagSet(&c)
	if err := fs.Parse(args); err != nil {
		return command{}, err
	}
	if fs.NArg() > 0 {
		return command{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.remove {
		// Remove finds the rules whatever ports they were installed with.
		return c, nil
	}
	appPortSet := false
	fs.Visit(func(f *flag.Flag) { appPortSet = appPortSet || f.Name == queue.IPTablesFlagAppPort })
	if !appPortSet {
		return command{}, fmt.Errorf("--%s is required", queue.IPTablesFlagAppPort)
	}
	if err := c.opts.Validate(); err != nil {
		return command{}, err
	}
	return c, nil
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: queue %s --%s PORT [flags]\n\n", queue.IPTablesCommand, queue.IPTablesFlagAppPort)
	fmt.Fprintln(w, "Redirects the pod's inbound TCP for the app's port to the queue-proxy's")
	fmt.Fprintln(w, "intercept port (transparent mode). Needs NET_ADMIN.")
	fmt.Fprintln(w, "\nFlags:")
	var c command
	fs := newFlagSet(&c)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
