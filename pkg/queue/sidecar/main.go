package sidecar

import (
	"fmt"
	"io"
	"net"
	"net/http"

	"k8s.io/utils/clock"

	"flywheel.dev/pkg/process"
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
	cfg, err := queue.ConfigFromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "queue-proxy: invalid configuration:\n%v\n", err)
		return process.ExitUsage
	}
	log := process.NewLogger(stderr).With("revision", cfg.Revision, "pod", cfg.Pod)
	// The drain is the sidecar's own (Sidecar.Run): the preStop hook and
	// the drain window of queue.Config, not process.Servers.
	ctx, stop := process.SignalContext()
	defer stop()

	tel, err := startTelemetry(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "queue-proxy: %v\n", err)
		return process.ExitUsage
	}
	defer shutdownTelemetry(tel, log)

	// The wall clock's seconds: the autoscaler scrapes just after each
	// ends, and gets it complete.
	tracker := stats.NewWallClockTracker(clock.RealClock{})
	labels := stats.LabelsFromConfig(cfg)
	if err := stats.RegisterMetrics(tel.MeterProvider(), tracker, labels); err != nil {
		log.Error("setting up metrics", "error", err)
		return process.ExitFailed
	}
	s := New(cfg, Options{
		Logger:  log,
		Measure: func(h http.Handler) http.Handler { return stats.Handler(h, tracker) },
		Metrics: stats.Mux(tracker, labels, tel.MetricsHandler()),
		Meters:  tel.MeterProvider(),
		Tracer:  tel.Tracer("flywheel.dev/pkg/queue/sidecar"),
		Intercept: func(l net.Listener) net.Listener {
			return intercept.NewListener(l, intercept.ListenerOptions{Logger: log})
		},
		ConnContext: intercept.ConnContext,
	})
	obs := tel.Config()
	log.Info(ServingMessage, "mode", cfg.Mode, "port", cfg.ServingPort, "app", cfg.UserPort,
		"containerConcurrency", cfg.ContainerConcurrency, "queueDepth", cfg.QueueDepth,
		"metrics", obs.Metrics.Protocol, "tracing", obs.Tracing.Protocol, "samplingRate", obs.Tracing.SamplingRate)
	if err := s.Run(ctx); err != nil {
		log.Error("queue-proxy stopped", "error", err)
		return process.ExitFailed
	}
	return process.ExitOK
}
