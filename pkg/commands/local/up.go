package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/client/clientset/versioned"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/controlplane"
	"flywheel.dev/pkg/local"
)

type upOptions struct {
	controlPlaneBin string
	dataDir         string
	sample          string
	eventingSample  string
	gatewayAddress  string
	exit            bool
	tracing         bool
}

// NewLocalUpCommand returns `fw local up`.
func NewLocalUpCommand(_ *params.Params) *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start Flywheel on this machine and run the sample",
		Long: `Start etcd, kube-apiserver and kube-controller-manager built from their
pinned Go modules, install Flywheel (CRDs, configuration, admission
webhook, controller), run the process node that runs pods as processes
and the gateway that serves Routes on --gateway-address, then deploy the
sample Service, call it, and split its traffic between two revisions;
then a Broker and a Trigger to a Knative Service that logs the events it
gets, and send it one with fw event send.
Runs in the foreground until interrupted or told to stop by fw local down,
then stops everything it started. The cluster stays in <data-dir>/cluster
(etcd's data and certificates): the next fw local up brings back what was
made and starts its pods again, and deploys the samples only when they are
not there; fw local down --purge deletes it. It records itself in
<data-dir>/state.json for fw local status, logs and down; one runs at a time
per data directory, and what a crashed one left there is removed first.
Needs root.`,
		Example: `  # From a clone of the repository:
  fw local up
  # Bring Flywheel up, run the sample, and stop again:
  fw local up --exit`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUp(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	// Defaults that depend on the environment are resolved when the
	// command runs, so the generated reference is the same everywhere.
	cmd.Flags().StringVar(&o.controlPlaneBin, "controlplane-bin", "",
		"directory holding etcd, kube-apiserver, kube-controller-manager, kube-proxy and coredns (default $FLYWHEEL_CONTROLPLANE_BIN, else built with hack/build-controlplane.sh)")
	addDataDirFlag(cmd, &o.dataDir)
	cmd.Flags().StringVar(&o.sample, "sample", "examples/hello/service.yaml", "Knative Service manifest to apply once up; empty for none")
	cmd.Flags().StringVar(&o.eventingSample, "eventing-sample", "examples/event-display/eventing.yaml",
		"after the sample, manifests of a Broker, a Trigger and its subscriber "+sampleDisplay+" to apply and send an event through; empty for none")
	cmd.Flags().StringVar(&o.gatewayAddress, "gateway-address", local.DefaultGatewayAddress,
		"where the gateway serves Routes (host:port); cluster-local Routes are served on the next port")
	cmd.Flags().BoolVar(&o.exit, "exit", false, "stop again once the sample has run")
	cmd.Flags().BoolVar(&o.tracing, "tracing", false,
		"also run Jaeger (built from its pinned module the first time) and send it every component's traces, all sampled; its UI and API on http://"+local.JaegerUIAddress)
	return cmd
}

func runUp(ctx context.Context, out io.Writer, o upOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	o.dataDir = dataDir(o.dataDir)
	// Refuse before building anything; sweep what a crashed run left
	// where the user can see it (local.Up would do it silently).
	if st, err := local.ReadState(o.dataDir); err == nil {
		if st.Running() {
			return alreadyUp(st.Owner.PID)
		}
		fmt.Fprintf(out, "An earlier fw local up (pid %d) did not stop cleanly; removing what it left:\n", st.Owner.PID)
		if err := local.Down(ctx, o.dataDir, downTimeout, indentWriter{out, "  "}); err != nil {
			return err
		}
	} else if !errors.Is(err, local.ErrNoState) {
		return err
	}
	bin := o.controlPlaneBin
	if bin == "" {
		bin = os.Getenv("FLYWHEEL_CONTROLPLANE_BIN")
	}
	if bin == "" {
		var err error
		if bin, err = buildControlPlane(ctx, o.tracing); err != nil {
			return err
		}
	}

	start := time.Now()
	clusterDir := local.ClusterDir(o.dataDir)
	if local.HasCluster(o.dataDir) {
		fmt.Fprintf(out, "Resuming the cluster kept in %s: what was made before comes back\n(fw local down --purge deletes it).\n", clusterDir)
	}
	fmt.Fprintln(out, "Starting etcd, kube-apiserver and kube-controller-manager, installing Flywheel...")
	fw, err := local.Up(ctx, local.Options{
		ControlPlane:   controlplane.Options{BinDir: bin, ControllerManager: true, DataDir: clusterDir},
		Controller:     true,
		WorkDir:        o.dataDir,
		Node:           true,
		GatewayAddress: o.gatewayAddress,
		Progress:       out,
		Tracing:        o.tracing,
	})
	if already := (*local.AlreadyUpError)(nil); errors.As(err, &already) {
		return alreadyUp(already.PID)
	}
	if err != nil {
		return err
	}
	defer fw.Stop()

	kubeconfig := filepath.Join(o.dataDir, params.LocalKubeconfigName)
	if err := copyFile(fw.ControlPlane.KubeconfigPath, kubeconfig); err != nil {
		return err
	}
	if err := fw.RecordKubeconfig(kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(out, "Flywheel is up in %v: the Knative Serving API (serving.knative.dev/v1), the process node running\n"+
		"pods, and Flywheel's webhook, controller, activator, autoscaler and gateway as its pods, the gateway on http://%s;\n"+
		"Knative Eventing (eventing.knative.dev/v1 Broker and Trigger) with NATS JetStream, the broker ingress and dispatcher,\n"+
		"and its sources (sources.knative.dev/v1) with the PingSource adapter.\n",
		time.Since(start).Round(100*time.Millisecond), fw.GatewayAddr)
	if o.tracing {
		fmt.Fprintf(out, "Traces: every request's and event's, in Jaeger at http://%s (its API under /api/traces).\n", local.JaegerUIAddress)
	}

	// Told to stop (Ctrl-C, fw local down) while a sample runs is a
	// stop like any other, not the sample failing.
	if o.sample != "" {
		if err := applySample(ctx, out, fw, o.sample); err != nil {
			return stoppedOr(ctx, out, err)
		}
	}
	if o.eventingSample != "" {
		if err := runEventingSample(ctx, out, fw, kubeconfig, o.eventingSample); err != nil {
			return stoppedOr(ctx, out, err)
		}
	}

	fmt.Fprintf(out, `
The API server is at %s.
  export KUBECONFIG=%s
Any Kubernetes client works with it, and so does fw (make run built bin/fw):
  bin/fw service list
  bin/fw service create greeter --image ko://flywheel.dev/examples/hello --env TARGET=you
  curl -H 'Host: greeter.default.%s' http://%s/
  bin/fw trigger list
  bin/fw event send --broker default --type dev.flywheel.sample.greeting --data-json '{"greeting":"again"}'
Logs (components, node, pods): %s
  fw local status      what runs, the node and the pods
  fw local logs NAME   a component's log (webhook, controller, gateway, node, ...), or pod/NAME
  fw local down        stop Flywheel from another terminal
`, fw.ControlPlane.APIServerURL, kubeconfig, local.LocalDomain, fw.GatewayAddr, o.dataDir)

	if o.exit {
		return nil
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop Flywheel; what you made stays for the next fw local up.")
	<-ctx.Done()
	fmt.Fprintln(out, "Stopping...")
	return nil
}

// stoppedOr is nil, after saying so, when ctx ended because fw local up
// was told to stop; else err.
func stoppedOr(ctx context.Context, out io.Writer, err error) error {
	if ctx.Err() == nil {
		return err
	}
	fmt.Fprintln(out, "Stopping...")
	return nil
}

// applySample creates the sample Service, prints it as the webhook
// defaulted it, and shows a refusal of a broken copy. A sample Service
// kept from an earlier run is left as the user may have changed it, and
// only called.
func applySample(ctx context.Context, out io.Writer, fw *local.Flywheel, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the sample: %w", err)
	}
	var svc servingv1.Service
	if err := yaml.UnmarshalStrict(b, &svc); err != nil {
		return fmt.Errorf("parsing the sample %s: %w", path, err)
	}
	if svc.Namespace == "" {
		svc.Namespace = "default"
	}
	client, err := versioned.NewForConfig(fw.ControlPlane.RESTConfig())
	if err != nil {
		return err
	}
	kept, err := client.ServingV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
	switch {
	case err == nil:
		fmt.Fprintf(out, "\nThe sample Service %s/%s is there from an earlier run; it is not deployed again.\n", kept.Namespace, kept.Name)
		return callKeptSample(ctx, out, fw, client, kept)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("looking for the sample Service: %w", err)
	}
	created, err := client.ServingV1().Services(svc.Namespace).Create(ctx, &svc, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the sample Service: %w", err)
	}
	fmt.Fprintf(out, "\nCreated Service %s/%s. The webhook filled in its defaults:\n", created.Namespace, created.Name)
	spec, err := yaml.Marshal(created.Spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, indent(string(spec), "  "))

	broken := svc.DeepCopy()
	broken.Name += "-broken"
	broken.Spec.Template.Spec.Containers[0].Image = ""
	_, err = client.ServingV1().Services(svc.Namespace).Create(ctx, broken, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return errors.New("the webhook accepted a Service without an image")
	}
	fmt.Fprintf(out, "And refused a copy without an image:\n  %v\n", err)
	return runSample(ctx, out, fw, client, created)
}

// downTimeout is how long fw local down (and up, for a stale run) waits
// for a running fw local up to stop.
const downTimeout = 60 * time.Second

// addDataDirFlag adds --data-dir, the directory of one local Flywheel.
func addDataDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "data-dir", "",
		"where fw local up keeps its state, logs and kubeconfig (default $XDG_DATA_HOME/flywheel/local or ~/.local/share/flywheel/local)")
}

// dataDir is --data-dir or its default.
func dataDir(flag string) string {
	if flag != "" {
		return flag
	}
	return params.LocalDataDir()
}

// alreadyUp is the refusal to start a second Flywheel in a data
// directory.
func alreadyUp(pid int) error { return alreadyUpError{pid: pid} }

// alreadyUpError is a sentence for the user, as cobra prints it: it names
// the running fw local up and the commands that deal with it.
type alreadyUpError struct{ pid int }

func (e alreadyUpError) Error() string {
	return fmt.Sprintf("Flywheel is already up (pid %d); `fw local status` shows it, `fw local down` stops it", e.pid)
}

// indentWriter writes each line with a prefix; lines must come whole,
// one a Write, as fmt.Fprintf writes them.
type indentWriter struct {
	w      io.Writer
	prefix string
}

func (w indentWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// buildControlPlane runs hack/build-controlplane.sh from the repository
// the command is run in, with Jaeger when tracing; it prints the
// directory of the built binaries.
func buildControlPlane(ctx context.Context, tracing bool) (string, error) {
	root, err := local.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: run fw local up from a clone of the repository, or pass --controlplane-bin", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "build-controlplane.sh"))
	cmd.Stderr = os.Stderr
	if tracing {
		cmd.Env = append(os.Environ(), "FLYWHEEL_BUILD_JAEGER=1")
	}
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the control plane: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1], nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
