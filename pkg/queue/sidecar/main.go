package sidecar

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/queue"
	"flywheel.dev/pkg/queue/intercept"
	"flywheel.dev/pkg/queue/stats"
)

// ServingMessage is what the queue-proxy logs as it starts serving, once
// configured: the first sign of a new pod's process in its logs
// (test/bench/autoscaling reads it).
const ServingMessage = "serving"

// Main runs the queue-proxy with the environment of queue.Config and
// returns the process's exit code. It serves until SIGTERM or SIGINT, then
// drains. With the arguments `iptables …` it installs the transparent
// mode's rules instead, as the init container does.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == queue.IPTablesCommand {
		return intercept.Main(args[1:], stdout, stderr)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := queue.ConfigFromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "queue-proxy: invalid configuration:\n%v\n", err)
		return 2
	}
	log = log.With("revision", cfg.Revision, "pod", cfg.Pod)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// The wall clock's seconds: the autoscaler scrapes just after each
	// ends, and gets it complete.
	tracker := stats.NewWallClockTracker(clock.RealClock{})
	metrics, err := stats.Mux(tracker, stats.LabelsFromConfig(cfg))
	if err != nil {
		log.Error("setting up metrics", "error", err)
		return 1
	}
	s := New(cfg, Options{
		Logger:  log,
		Measure: func(h http.Handler) http.Handler { return stats.Handler(h, tracker) },
		Metrics: metrics,
		Intercept: func(l net.Listener) net.Listener {
			return intercept.NewListener(l, intercept.ListenerOptions{Logger: log})
		},
		ConnContext: intercept.ConnContext,
	})
	log.Info(ServingMessage, "mode", cfg.Mode, "port", cfg.ServingPort, "app", cfg.UserPort,
		"containerConcurrency", cfg.ContainerConcurrency, "queueDepth", cfg.QueueDepth)
	if err := s.Run(ctx); err != nil {
		log.Error("queue-proxy stopped", "error", err)
		return 1
	}
	return 0
}
