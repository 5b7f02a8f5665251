package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"flywheel.dev/pkg/activator"
)

// Main is the activator binary: it parses args, runs the activator until
// SIGTERM or SIGINT, drains, and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("activator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; empty uses the in-cluster configuration")
	address := fs.String("address", DefaultAddress, "address to serve requests on (HTTP/1.1 and h2c)")
	admin := fs.String("admin-address", DefaultAdminAddress, "address of /livez, /readyz and /healthz")
	autoscaler := fs.String("autoscaler-url", "", "URL the load reports go to, e.g. http://autoscaler.flywheel-system.svc:8080"+activator.StatsPath)
	autoscalerService := fs.String("autoscaler-service", "", "namespace/name of the autoscaler's Service, whose ready endpoint (port "+activator.AutoscalerStatsPort+") takes the load reports when --autoscaler-url is empty; both empty send none")
	queueDepth := fs.Int("max-queue-depth", DefaultMaxQueueDepth, "most requests that wait for a pod of one revision; more get 503")
	drain := fs.Duration("drain-window", DefaultDrainWindow, "how long to keep serving, reporting not ready, after SIGTERM")
	shutdown := fs.Duration("shutdown-timeout", DefaultShutdownTimeout, "how long to wait for requests in flight after the drain window")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *queueDepth <= 0 {
		fmt.Fprintf(stderr, "--max-queue-depth %d: must be at least 1\n", *queueDepth)
		return 2
	}
	var autoscalerSvc types.NamespacedName
	if *autoscalerService != "" {
		ns, name, ok := strings.Cut(*autoscalerService, "/")
		if !ok || ns == "" || name == "" {
			fmt.Fprintf(stderr, "--autoscaler-service %q: want namespace/name\n", *autoscalerService)
			return 2
		}
		autoscalerSvc = types.NamespacedName{Namespace: ns, Name: name}
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
	rest.UserAgent = "flywheel-activator"

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = Run(ctx, Config{
		RESTConfig:        rest,
		Address:           *address,
		AdminAddress:      *admin,
		AutoscalerURL:     *autoscaler,
		AutoscalerService: autoscalerSvc,
		PodName:           os.Getenv(activator.PodNameEnv),
		MaxQueueDepth:     *queueDepth,
		DrainWindow:       *drain,
		ShutdownTimeout:   *shutdown,
		Logger:            log,
	})
	if err != nil {
		log.Error("activator failed", "error", err)
		return 1
	}
	return 0
}
