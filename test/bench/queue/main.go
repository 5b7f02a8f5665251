package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const commandsUsage = `usage: queue <command> [flags]

commands:
  run       run the benchmark (see run -h)
  app       serve a test app
  baseline  serve the baseline reverse proxy
  load      generate closed-loop load and print the result as JSON
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, commandsUsage)
		os.Exit(2)
	}
	commands := map[string]func(context.Context, []string) error{
		"run":      runMain,
		"app":      appMain,
		"baseline": baselineMain,
		"load":     loadMain,
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], commandsUsage)
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
		fmt.Fprintf(os.Stderr, "queue %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
