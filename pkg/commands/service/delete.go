package service

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

// NewServiceDeleteCommand returns `fw service delete`.
func NewServiceDeleteCommand(p *params.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete Services, with their Revisions and Routes",
		Example: `  fw service delete hello
  # Return only once hello is gone:
  fw service delete hello --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd.Context(), cmd.OutOrStdout(), p, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each Service is gone", false)
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
	var errs []error
	for _, name := range names {
		if err := wait.Delete(ctx, client.Services(ns), "Service", ns, name, timeout); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "Deleted Service %s in namespace %s.\n", name, ns)
	}
	return errors.Join(errs...)
}
