package revision

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/wait"
)

// NewRevisionDeleteCommand returns `fw revision delete`.
func NewRevisionDeleteCommand(p *params.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete Revisions",
		Long: `Delete Revisions. A Revision that a Service still sends traffic to is
refused: move the traffic away first with fw service update --traffic.`,
		Example: `  fw revision delete hello-00001 hello-00002`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd.Context(), cmd.OutOrStdout(), p, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each Revision is gone", false)
	return cmd
}

func runDelete(ctx context.Context, out io.Writer, p *params.Params, w *flags.WaitFlags, names []string) error {
	timeout, err := w.WaitTimeout()
	if err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	traffic, err := routingByRevision(ctx, client, ns)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if routed := traffic[ns+"/"+name]; routed != nil && (routed.percent > 0 || len(routed.tags) > 0) {
			// Deleting it would break the Route that serves it.
			errs = append(errs, fmt.Errorf("the Revision %s still takes traffic (%d%%, tags %v): move it away with fw service update --traffic, or --untag, first",
				name, routed.percent, routed.tags))
			continue
		}
		if err := wait.Delete(ctx, client.Revisions(ns), "Revision", ns, name, timeout); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "Deleted Revision %s in namespace %s.\n", name, ns)
	}
	return errors.Join(errs...)
}
