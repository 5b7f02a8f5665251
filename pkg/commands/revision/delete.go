package revision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"flywheel.dev/pkg/apis/serving"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/wait"
)

// NewRevisionDeleteCommand returns `fw revision delete`.
func NewRevisionDeleteCommand(p *params.Params) *cobra.Command {
	var o deleteOptions
	cmd := &cobra.Command{
		Use:   "delete NAME... | --prune SERVICE | --prune-all",
		Short: "Delete Revisions",
		Long: `Delete Revisions. A Revision that a Service still sends traffic to is
refused: move the traffic away first with fw service update --traffic.

--prune SERVICE deletes every Revision of the Service that takes no
traffic, has no tag and is not its latest created or latest ready
Revision; --prune-all does so for every Service in the namespace.`,
		Example: `  fw revision delete hello-00001 hello-00002

  # Keep only the Revisions that hello serves:
  fw revision delete --prune hello`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd.Context(), cmd.OutOrStdout(), p, &o, args)
		},
	}
	o.wait.Add(cmd.Flags(), "each Revision is gone", false)
	cmd.Flags().StringVar(&o.prune, pruneFlag, "", "delete the Revisions of this Service that it does not route to")
	cmd.Flags().BoolVar(&o.pruneAll, pruneAllFlag, false, "delete the Revisions of every Service in the namespace that it does not route to")
	return cmd
}

const (
	pruneFlag    = "prune"
	pruneAllFlag = "prune-all"
)

// deleteOptions are the flags of fw revision delete.
type deleteOptions struct {
	wait     flags.WaitFlags
	prune    string
	pruneAll bool
}

// check refuses a command that names Revisions and asks to prune too, or
// does neither.
func (o *deleteOptions) check(names []string) error {
	switch pruning := o.prune != "" || o.pruneAll; {
	case pruning && len(names) > 0:
		return fmt.Errorf("give Revision names or --%s/--%s, not both: pruning chooses the Revisions itself", pruneFlag, pruneAllFlag)
	case o.prune != "" && o.pruneAll:
		return fmt.Errorf("--%s %s and --%s contradict each other: give one of them", pruneFlag, o.prune, pruneAllFlag)
	case !pruning && len(names) == 0:
		return fmt.Errorf("give the names of the Revisions to delete, e.g. hello-00001, or --%s SERVICE", pruneFlag)
	}
	return nil
}

func runDelete(ctx context.Context, out io.Writer, p *params.Params, o *deleteOptions, names []string) error {
	if err := o.check(names); err != nil {
		return err
	}
	timeout, err := o.wait.WaitTimeout()
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
	if len(names) == 0 {
		if names, err = unrouted(ctx, client, ns, o.prune, traffic); err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(out, "No Revision to prune: each one takes traffic, has a tag, or is its Service's latest.")
			return nil
		}
	}
	var errs []error
	for _, name := range names {
		if routed := traffic[ns+"/"+name]; routed.takesTraffic() {
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

// unrouted lists the Revisions of service (of every Service when empty)
// that --prune deletes: no traffic, no tag, and neither the latest
// created nor the latest ready one of their Configuration, which the
// Configuration would otherwise make again or fall back to.
func unrouted(ctx context.Context, client servingv1client.ServingV1Interface, ns, service string, traffic map[string]*routing) ([]string, error) {
	selector := serving.ServiceLabel.String()
	if service != "" {
		if _, err := client.Services(ns).Get(ctx, service, metav1.GetOptions{}); err != nil {
			if apierrs.IsNotFound(err) {
				return nil, fmt.Errorf("no Service %s in namespace %s to prune; fw service list lists them", service, ns)
			}
			return nil, err
		}
		selector += "=" + service
	}
	configs, err := client.Configurations(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Configurations for their latest Revisions: %w", err)
	}
	latest := sets.New[string]()
	for _, c := range configs.Items {
		latest.Insert(c.Status.LatestCreatedRevisionName, c.Status.LatestReadyRevisionName)
	}
	revisions, err := client.Revisions(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing Revisions: %w", err)
	}
	var names []string
	for _, r := range revisions.Items {
		if !latest.Has(r.Name) && !traffic[ns+"/"+r.Name].takesTraffic() {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}
