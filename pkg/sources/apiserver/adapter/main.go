package adapter

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/sources/apiserver"
)

// userAgent names the adapter in the API server's logs and audit.
const userAgent = "flywheel-apiserversource-adapter"

// Main is the apiserversource-adapter binary: it reads its Config
// (apiserver.ConfigEnv) and the binding contract (K_SINK, K_CE_OVERRIDES),
// watches until SIGTERM or SIGINT, and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("apiserversource-adapter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; empty uses the in-cluster configuration (the pod's service account)")
	probes := fs.String("probe-address", ":"+strconv.Itoa(apiserver.ProbePort), "address of "+apiserver.HealthPath+" and "+apiserver.ReadyPath)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// client-go's own messages stay klog's; the watch failures that matter
	// are logged here, through each watch's error handler.
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	cfg, err := apiserver.Decode(os.Getenv(apiserver.ConfigEnv))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sink, overrides, err := sources.FromEnv()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rest, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "loading the API server configuration (--kubeconfig %q): %v\n", *kubeconfig, err)
		return 1
	}
	rest.UserAgent = userAgent
	// One list and one watch per resource and namespace at start: the
	// client's default of 5 requests a second would hold a source that
	// watches a few kinds in many namespaces back for minutes.
	rest.QPS, rest.Burst = 50, 100
	client, err := dynamic.NewForConfig(rest)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sender := SinkSender{Sender: sources.NewSender(delivery.New(nil, nil), sources.DefaultSendParams), Sink: sink, Overrides: overrides}
	a := New(cfg, client, sender, clock.RealClock{}, log)
	if err := a.Start(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	go serveProbes(ctx, *probes, a.Synced, log)
	log.Info("watching", "source", cfg.SourceNamespace+"/"+cfg.SourceName, "mode", cfg.Mode,
		"resources", len(cfg.Resources), "allNamespaces", cfg.AllNamespaces, "namespaces", cfg.Namespaces, "sink", sink.Redacted())
	<-ctx.Done()
	log.Info("stopping")
	return 0
}

// serveProbes answers apiserver.HealthPath while the process runs and
// apiserver.ReadyPath once every watch has synced: a new adapter becomes
// ready, and its Deployment available, only once it reports every change.
func serveProbes(ctx context.Context, address string, synced func() bool, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc(apiserver.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc(apiserver.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if !synced() {
			http.Error(w, "listing what the source watches", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Addr: address, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serving probes", "error", err)
	}
}
