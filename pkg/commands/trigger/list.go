package trigger

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

type listOptions struct {
	output        string
	allNamespaces bool
	broker        string
}

// NewTriggerListCommand returns `fw trigger list`.
func NewTriggerListCommand(p *params.Params) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Triggers with their Broker, sink, age and readiness",
		Example: `  fw trigger list
  # Only the Triggers of the Broker "default":
  fw trigger list --broker default
  fw trigger list --all-namespaces -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), cmd.OutOrStdout(), p, o)
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &o.output)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the Triggers of every namespace")
	cmd.Flags().StringVar(&o.broker, brokerFlag, "", "list only the Triggers of this Broker")
	return cmd
}

func runList(ctx context.Context, out io.Writer, p *params.Params, o listOptions) error {
	if err := printers.CheckOutput(o.output); err != nil {
		return err
	}
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return err
	}
	if o.allNamespaces {
		ns = metav1.NamespaceAll
	}
	list, err := client.Triggers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Triggers: %w", err)
	}
	if o.broker != "" {
		// By spec, not by the Broker label: the label is the webhook's
		// copy, and a Trigger made without the webhook lacks it.
		list.Items = slices.DeleteFunc(list.Items, func(t eventingv1.Trigger) bool { return t.Spec.Broker != o.broker })
	}
	slices.SortFunc(list.Items, func(a, b eventingv1.Trigger) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if o.output != "" {
		return printers.PrintObject(out, o.output, list)
	}
	if len(list.Items) == 0 {
		if o.broker != "" {
			printers.NoneFound(out, "Triggers of Broker "+o.broker, ns, o.allNamespaces)
			return nil
		}
		printers.NoneFound(out, "Triggers", ns, o.allNamespaces)
		return nil
	}
	t := printers.NewListTable(out, o.allNamespaces, "NAME", "BROKER", "SINK", "AGE", "READY", "REASON")
	now := p.Now()
	for i := range list.Items {
		tr := &list.Items[i]
		ready, reason := printers.Ready(tr.Status.Conditions)
		t.Object(tr.Namespace, tr.Name, tr.Spec.Broker, delivery.FormatDestination(&tr.Spec.Subscriber, tr.Namespace),
			printers.Age(now, tr.CreationTimestamp), ready, reason)
	}
	return t.Flush()
}
