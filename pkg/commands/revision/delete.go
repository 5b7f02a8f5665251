package revision

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
	shouldWait, err := w.Wait()
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
		err := client.Revisions(ns).Delete(ctx, name, metav1.DeleteOptions{})
		switch {
		case apierrs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("no Revision %s in namespace %s", name, ns))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting Revision %s: %w", name, err))
			continue
		}
		if shouldWait {
			waitCtx, cancel := context.WithTimeout(ctx, w.Timeout)
			_, err = wait.Until(waitCtx, client.Revisions(ns), name, func(_ *servingv1.Revision, found bool) (bool, error) { return !found, nil })
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("waiting for Revision %s to be gone: %w", name, err))
				continue
			}
		}
		fmt.Fprintf(out, "Deleted Revision %s in namespace %s.\n", name, ns)
	}
	return errors.Join(errs...)
}
