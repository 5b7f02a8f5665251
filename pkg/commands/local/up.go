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
	gatewayAddress  string
	exit            bool
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
sample Service, call it, and split its traffic between two revisions.
Runs in the foreground until interrupted, then removes everything it
started. Needs root.`,
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
		"directory holding etcd, kube-apiserver and kube-controller-manager (default $FLYWHEEL_CONTROLPLANE_BIN, else built with hack/build-controlplane.sh)")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "", "where logs and the kubeconfig go (default $XDG_DATA_HOME/flywheel/local or ~/.local/share/flywheel/local)")
	cmd.Flags().StringVar(&o.sample, "sample", "examples/hello/service.yaml", "Knative Service manifest to apply once up; empty for none")
	cmd.Flags().StringVar(&o.gatewayAddress, "gateway-address", local.DefaultGatewayAddress,
		"where the gateway serves Routes (host:port); cluster-local Routes are served on the next port")
	cmd.Flags().BoolVar(&o.exit, "exit", false, "stop again once the sample has run")
	return cmd
}

func runUp(ctx context.Context, out io.Writer, o upOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.dataDir == "" {
		o.dataDir = params.LocalDataDir()
	}
	bin := o.controlPlaneBin
	if bin == "" {
		bin = os.Getenv("FLYWHEEL_CONTROLPLANE_BIN")
	}
	if bin == "" {
		var err error
		if bin, err = buildControlPlane(ctx); err != nil {
			return err
		}
	}

	start := time.Now()
	fmt.Fprintln(out, "Starting etcd, kube-apiserver and kube-controller-manager, installing Flywheel...")
	fw, err := local.Up(ctx, local.Options{
		ControlPlane:   controlplane.Options{BinDir: bin, ControllerManager: true},
		Controller:     true,
		WorkDir:        o.dataDir,
		Node:           true,
		GatewayAddress: o.gatewayAddress,
	})
	if err != nil {
		return err
	}
	defer fw.Stop()

	kubeconfig := filepath.Join(o.dataDir, params.LocalKubeconfigName)
	if err := copyFile(fw.ControlPlane.KubeconfigPath, kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(out, "Flywheel is up in %v: the Knative Serving API (serving.knative.dev/v1), its admission webhook,\n"+
		"its controller, the process node running pods, and the gateway on http://%s.\n",
		time.Since(start).Round(100*time.Millisecond), fw.GatewayAddr)

	if o.sample != "" {
		if err := applySample(ctx, out, fw, o.sample); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, `
The API server is at %s.
  export KUBECONFIG=%s
Any Kubernetes client works with it, and so does fw (make run built bin/fw):
  bin/fw service list
  bin/fw service create greeter --image ko://flywheel.dev/examples/hello --env TARGET=you
  curl -H 'Host: greeter.default.%s' http://%s/
Logs (components, node, pods): %s
`, fw.ControlPlane.APIServerURL, kubeconfig, local.LocalDomain, fw.GatewayAddr, o.dataDir)

	if o.exit {
		return nil
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop Flywheel and remove everything it started.")
	<-ctx.Done()
	fmt.Fprintln(out, "Stopping...")
	return nil
}

// applySample creates the sample Service, prints it as the webhook
// defaulted it, and shows a refusal of a broken copy.
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

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// buildControlPlane runs hack/build-controlplane.sh from the repository
// the command is run in; it prints the directory of the built binaries.
func buildControlPlane(ctx context.Context) (string, error) {
	root, err := local.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: run fw local up from a clone of the repository, or pass --controlplane-bin", err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "build-controlplane.sh"))
	cmd.Stderr = os.Stderr
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
