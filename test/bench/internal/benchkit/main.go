package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// A Command is a subcommand of a benchmark binary.
type Command func(ctx context.Context, args []string) error

// Parts are the subcommands every benchmark binary has, under the names
// the Harness runs them by.
func Parts() map[string]Command {
	return map[string]Command{"app": AppMain, "baseline": BaselineMain, "load": LoadMain}
}

// Main runs the subcommand of prog named by os.Args[1] until it returns
// or SIGINT or SIGTERM ends it, and exits: 2 for usage, 1 for failure.
func Main(prog, usage string, commands map[string]Command) {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd(ctx, os.Args[2:])
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", prog, os.Args[1], err)
		os.Exit(1)
	}
}
