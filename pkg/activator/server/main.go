package server

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/activator"
	"flywheel.dev/pkg/process"
	"flywheel.dev/pkg/telemetry"
)

// Main is the activator binary: it parses args, runs the activator until
// SIGTERM or SIGINT, drains, and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("activator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common process.Flags
	common.Register(fs, process.Flags{AdminAddress: DefaultAdminAddress, DrainWindow: DefaultDrainWindow, ShutdownTimeout: DefaultShutdownTimeout})
	address := fs.String("address", DefaultAddress, "address to serve requests on (HTTP/1.1 and h2c)")
	autoscaler := fs.String("autoscaler-url", "", "URL the load reports go to, e.g. http://autoscaler.flywheel-system.svc:8080"+activator.StatsPath)
	autoscalerService := fs.String("autoscaler-service", "", "namespace/name of the autoscaler's Service, whose ready endpoint (port "+activator.AutoscalerStatsPort+") takes the load reports when --autoscaler-url is empty; both empty send none")
	queueDepth := fs.Int("max-queue-depth", DefaultMaxQueueDepth, "most requests that wait for a pod of one revision; more get 503")
	if code, ok := process.Parse(fs, args); !ok {
		return code
	}
	if *queueDepth <= 0 {
		fmt.Fprintf(stderr, "--max-queue-depth %d: must be at least 1\n", *queueDepth)
		return process.ExitUsage
	}
	var autoscalerSvc types.NamespacedName
	if *autoscalerService != "" {
		ns, name, ok := strings.Cut(*autoscalerService, "/")
		if !ok || ns == "" || name == "" {
			fmt.Fprintf(stderr, "--autoscaler-service %q: want namespace/name\n", *autoscalerService)
			return process.ExitUsage
		}
		autoscalerSvc = types.NamespacedName{Namespace: ns, Name: name}
	}
	log := process.NewLogger(stderr)
	rest, err := clientcmd.BuildConfigFromFlags("", common.Kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "loading the API server configuration (--kubeconfig %q): %v\n", common.Kubeconfig, err)
		return process.ExitFailed
	}
	rest.UserAgent = "flywheel-activator"

	ctx, stop := process.SignalContext()
	defer stop()
	tel, err := telemetry.Start(ctx, "activator", rest, log)
	if err != nil {
		return process.ExitCode(log, "activator", err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	err = Run(ctx, Config{
		RESTConfig:        rest,
		Address:           *address,
		AdminAddress:      common.AdminAddress,
		AutoscalerURL:     *autoscaler,
		AutoscalerService: autoscalerSvc,
		PodName:           os.Getenv(activator.PodNameEnv),
		MaxQueueDepth:     *queueDepth,
		DrainWindow:       common.ConfigDrainWindow(),
		ShutdownTimeout:   common.ShutdownTimeout,
		Logger:            log,
		Meters:            tel.MeterProvider(),
		Tracer:            tel.Tracer("flywheel.dev/pkg/activator"),
	})
	return process.ExitCode(log, "activator", err)
}
