package service

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/wait"
)

// NewServiceDeleteCommand returns `fw service delete`.
func NewServiceDeleteCommand(p *params.Params) *cobra.Command {
	var w flags.WaitFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "delete NAME... | --all",
		Short: "Delete Services, with their Revisions and Routes",
		Example: `  fw service delete hello
  # Return only once hello is gone:
  fw service delete hello --wait
  # Every Service in the namespace demo:
  fw service delete --all -n demo`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return fmt.Errorf("give Service names or --all, not both")
			case !all && len(args) == 0:
				return fmt.Errorf("give the names of the Services to delete, e.g. hello, or --all for every Service in the namespace")
			}
			return runDelete(cmd.Context(), cmd.OutOrStdout(), p, &w, args, all)
		},
	}
	w.Add(cmd.Flags(), "each Service is gone", false)
	p.AddTargetFlag(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "delete every Service in the namespace")
	return cmd
}

func runDelete(ctx context.Context, out io.Writer, p *params.Params, w *flags.WaitFlags, names []string, all bool) error {
	timeout, err := w.WaitTimeout()
	if err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	if p.Target != "" {
		// A file is gone once removed.
		timeout = 0
	}
	if all {
		list, err := client.Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing the Services to delete: %w", err)
		}
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		if len(names) == 0 {
			fmt.Fprintf(out, "No Services in namespace %s.\n", ns)
			return nil
		}
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
