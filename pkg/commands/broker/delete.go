package broker

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

// NewBrokerDeleteCommand returns `fw broker delete`.
func NewBrokerDeleteCommand(p *params.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete Brokers, with the events they hold",
		Long: `Delete Brokers. The events a Broker stored and has not yet delivered go
with it. Its Triggers stay, and report that their Broker does not exist.`,
		Example: `  fw broker delete default
  # Return only once it is gone:
  fw broker delete default --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd.Context(), cmd.OutOrStdout(), p, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each Broker is gone", false)
	return cmd
}

func runDelete(ctx context.Context, out io.Writer, p *params.Params, w *flags.WaitFlags, names []string) error {
	timeout, err := w.WaitTimeout()
	if err != nil {
		return err
	}
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if err := wait.Delete(ctx, client.Brokers(ns), "Broker", ns, name, timeout); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "Deleted Broker %s in namespace %s.\n", name, ns)
	}
	return errors.Join(errs...)
}
