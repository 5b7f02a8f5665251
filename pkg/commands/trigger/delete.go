package trigger

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

// NewTriggerDeleteCommand returns `fw trigger delete`.
func NewTriggerDeleteCommand(p *params.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete Triggers: their subscribers get no more events",
		Example: `  fw trigger delete orders
  # Return only once it is gone:
  fw trigger delete orders --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd.Context(), cmd.OutOrStdout(), p, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each Trigger is gone", false)
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
		if err := wait.Delete(ctx, client.Triggers(ns), "Trigger", ns, name, timeout); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "Deleted Trigger %s in namespace %s.\n", name, ns)
	}
	return errors.Join(errs...)
}
