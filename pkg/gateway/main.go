package gateway

import (
	"context"
	"flag"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/process"
	"flywheel.dev/pkg/telemetry"
)

// Main is the gateway binary: it parses args, runs the gateway until
// SIGTERM or SIGINT, drains, and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	listen := map[types.NamespacedName]string{}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("listen", "`NAMESPACE/GATEWAY=HOST:PORT`: serve the Gateway's HTTP listeners there; repeat for each Gateway", func(v string) error {
		return ParseListen(listen, v)
	})
	var common process.Flags
	common.Register(fs, process.Flags{AdminAddress: DefaultAdminAddress, DrainWindow: DefaultDrainWindow, ShutdownTimeout: DefaultShutdownTimeout})
	if code, ok := process.Parse(fs, args); !ok {
		return code
	}
	log := process.NewLogger(stderr)
	rest, err := clientcmd.BuildConfigFromFlags("", common.Kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "loading the API server configuration (--kubeconfig %q): %v\n", common.Kubeconfig, err)
		return process.ExitFailed
	}
	rest.UserAgent = "flywheel-gateway"

	ctx, stop := process.SignalContext()
	defer stop()
	tel, err := telemetry.Start(ctx, "gateway", rest, log)
	if err != nil {
		return process.ExitCode(log, "gateway", err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	err = Run(ctx, Config{
		RESTConfig:      rest,
		Listen:          listen,
		AdminAddress:    common.AdminAddress,
		DrainWindow:     common.ConfigDrainWindow(),
		ShutdownTimeout: common.ShutdownTimeout,
		Logger:          log,
		Meters:          tel.MeterProvider(),
		Tracer:          tel.Tracer("flywheel.dev/pkg/gateway"),
	})
	return process.ExitCode(log, "gateway", err)
}
