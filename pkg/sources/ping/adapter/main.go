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

	"github.com/google/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/client/informers/externalversions"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/sources"
	"flywheel.dev/pkg/sources/ping"
)

// drainTimeout is how long sends in flight may go on once the process is
// told to stop: under the 30 s the pod is given to exit.
const drainTimeout = 20 * time.Second

// options are the adapter's settings, from its flags and environment.
type options struct {
	kubeconfig   string
	probeAddress string
	maxLateness  time.Duration
	election     ElectionConfig
}

// parseOptions reads args and, through getenv, the identity and namespace
// the Deployment gives from the downward API.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("pingsource-adapter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; empty uses the in-cluster configuration")
	fs.StringVar(&o.probeAddress, "probe-address", ":"+strconv.Itoa(ping.ProbePort), "address of "+ping.HealthPath+" and "+ping.ReadyPath)
	fs.DurationVar(&o.maxLateness, "max-lateness", DefaultMaxLateness, "how late a tick's event may still be sent, after a failover or a pause; older ticks are skipped")
	fs.DurationVar(&o.election.LeaseDuration, "lease-duration", DefaultLeaseDuration, "how long a replica waits, after the leader's last renewal, before it takes over")
	fs.DurationVar(&o.election.RenewDeadline, "renew-deadline", DefaultRenewDeadline, "how long the leader keeps sending after its last renewal when it cannot renew")
	fs.DurationVar(&o.election.RetryPeriod, "retry-period", DefaultRetryPeriod, "how often the lease is renewed, or tried for")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.maxLateness < MinMaxLateness {
		return o, fmt.Errorf("--max-lateness=%v is too short: give at least %v, or ticks would be skipped for the timer's own delay", o.maxLateness, MinMaxLateness)
	}
	// client-go's own rules, said with the flags' names.
	e := &o.election
	switch {
	case e.RetryPeriod <= 0:
		return o, fmt.Errorf("--retry-period=%v: give a positive duration", e.RetryPeriod)
	case float64(e.RenewDeadline) <= leaderElectionJitter*float64(e.RetryPeriod):
		return o, fmt.Errorf("--renew-deadline=%v must exceed %v times --retry-period=%v: lengthen it or shorten the retry period", e.RenewDeadline, leaderElectionJitter, e.RetryPeriod)
	case e.LeaseDuration <= e.RenewDeadline:
		return o, fmt.Errorf("--lease-duration=%v must exceed --renew-deadline=%v, or a new leader could take over while the old one still sends: lengthen it", e.LeaseDuration, e.RenewDeadline)
	}

	e.Namespace = getenv(ping.PodNamespaceEnv)
	if e.Namespace == "" {
		return o, fmt.Errorf("%s is not set: give the pod's namespace from the downward API (fieldRef metadata.namespace), or the namespace of the Lease, such as flywheel-system", ping.PodNamespaceEnv)
	}
	e.Identity = getenv(ping.PodNameEnv)
	if e.Identity == "" {
		// Outside a pod: a unique identity is safe, only slower to take
		// over after a crash than the pod's name.
		host, _ := os.Hostname()
		e.Identity = host + "_" + uuid.NewString()
	}
	return o, nil
}

// leaderElectionJitter is client-go's factor on the retry period, which
// the renew deadline must exceed.
const leaderElectionJitter = 1.2

// Main is the pingsource-adapter binary: it parses args, sends every
// PingSource's events while its replica leads, until SIGTERM or SIGINT,
// and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	opts, err := parseOptions(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	// client-go's informers and election log as the adapter does.
	klog.SetSlogLogger(log)

	cfg, err := clientcmd.BuildConfigFromFlags("", opts.kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "loading the API server configuration (--kubeconfig %q): %v\n", opts.kubeconfig, err)
		return 1
	}
	cfg.UserAgent = ping.AdapterDeploymentName
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// The Lease's client has no client-side rate limit: a renewal must not
	// wait behind other requests past the renew deadline.
	leaseCfg := rest.CopyConfig(cfg)
	leaseCfg.QPS = -1
	opts.election.Client, err = kubernetes.NewForConfig(leaseCfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sender := sources.NewSender(delivery.New(nil, nil), sources.DefaultSendParams)
	scheduler := NewScheduler(clock.RealClock{}, sender, opts.maxLateness, log)
	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithTransform(stripManagedFields))
	informer := factory.Sources().V1().PingSources().Informer()
	if err := Watch(informer, scheduler, log); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	go serveProbes(ctx, opts.probeAddress, func() error {
		if !informer.HasSynced() {
			return errors.New("loading the PingSources")
		}
		return nil
	}, log)

	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		scheduler.Run(ctx)
	}()
	// A replica stands for election only once it knows every source: as
	// leader it sends at once the ticks missed before it led.
	code := 0
	if cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		log.Info("PingSources loaded; standing for election", "identity", opts.election.Identity, "lease", opts.election.Namespace+"/"+ping.LeaseName)
		// Elect returns once ctx ended and the lease is released.
		if err := Elect(ctx, opts.election, scheduler, log); err != nil {
			log.Error("electing a leader", "error", err)
			code = 1
			stop()
		}
	}
	<-loopDone
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	scheduler.Drain(drainCtx)
	return code
}

// serveProbes answers ping.HealthPath while the process runs and
// ping.ReadyPath while ready returns nil.
func serveProbes(ctx context.Context, address string, ready func() error, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc(ping.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc(ping.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
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
