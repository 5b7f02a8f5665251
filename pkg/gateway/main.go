package gateway

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
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
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; empty uses the in-cluster configuration")
	admin := fs.String("admin-address", DefaultAdminAddress, "address of /livez, /readyz and /healthz")
	drain := fs.Duration("drain-window", DefaultDrainWindow, "how long to keep serving, reporting not ready, after SIGTERM")
	shutdown := fs.Duration("shutdown-timeout", DefaultShutdownTimeout, "how long to wait for requests in flight after the drain window")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if *drain == 0 {
		// Zero in Config means the default; on the command line it
		// means what it says.
		*drain = -1
	}

	rest, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "loading the API server configuration (--kubeconfig %q): %v\n", *kubeconfig, err)
		return 1
	}
	rest.UserAgent = "flywheel-gateway"

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = Run(ctx, Config{
		RESTConfig:      rest,
		Listen:          listen,
		AdminAddress:    *admin,
		DrainWindow:     *drain,
		ShutdownTimeout: *shutdown,
		Logger:          log,
	})
	if err != nil {
		log.Error("gateway failed", "error", err)
		return 1
	}
	return 0
}
