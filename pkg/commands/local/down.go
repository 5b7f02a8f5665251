package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/local"
)

type downOptions struct {
	dataDir string
	timeout time.Duration
	purge   bool
}

// NewLocalDownCommand returns `fw local down`.
func NewLocalDownCommand(_ *params.Params) *cobra.Command {
	var o downOptions
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the Flywheel that fw local up runs, and remove what it left",
		Long: `Stop the Flywheel that fw local up runs with this data directory: send it
SIGTERM and wait (--timeout) until it has stopped its components and
removed its pods, network namespaces, routes and processes, as it does
when interrupted.

When fw local up is gone without cleaning up (it crashed, or was killed
with SIGKILL), remove what it left: the processes it recorded (each only
if its pid still runs the recorded executable), the node's pods and
routing, the components' network sandboxes and the control plane's data.
The cluster stays in the data directory (etcd's data, its certificates,
the volumes), with the logs and the kubeconfig: the next fw local up
brings back what was made, and starts its pods again. --purge deletes
it all after listing it, so that the next fw local up starts empty.

With nothing running, it says so and exits 0.`,
		Example: `  fw local down
  fw local down --data-dir /tmp/flywheel --timeout 2m
  # Stop and delete the cluster, to start afresh:
  fw local down --purge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDown(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	addDataDirFlag(cmd, &o.dataDir)
	cmd.Flags().DurationVar(&o.timeout, "timeout", downTimeout, "how long to wait for a running fw local up to stop")
	cmd.Flags().BoolVar(&o.purge, "purge", false, "then delete the cluster kept in the data directory (every object, volume and log), so that the next fw local up starts empty")
	return cmd
}

func runDown(ctx context.Context, out io.Writer, o downOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	dir := dataDir(o.dataDir)
	err := local.Down(ctx, dir, o.timeout, out)
	if errors.Is(err, local.ErrNoState) {
		fmt.Fprintf(out, "Flywheel is not running locally (no %s in %s); nothing to stop.\n", local.StateFileName, dir)
		err = nil
	}
	if err != nil || !o.purge {
		return err
	}
	return local.Purge(dir, out)
}
