package service

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
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
	shouldWait, err := w.Wait()
	if err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		err := client.Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
		switch {
		case apierrs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("no Service %s in namespace %s", name, ns))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting Service %s: %w", name, err))
			continue
		}
		if shouldWait {
			waitCtx, cancel := context.WithTimeout(ctx, w.Timeout)
			_, err = wait.Until(waitCtx, client.Services(ns), name, func(_ *servingv1.Service, found bool) (bool, error) { return !found, nil })
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("waiting for Service %s to be gone: %w", name, err))
				continue
			}
		}
		fmt.Fprintf(out, "Deleted Service %s in namespace %s.\n", name, ns)
	}
	return errors.Join(errs...)
}
