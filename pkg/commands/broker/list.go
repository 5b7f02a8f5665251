package broker

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

type listOptions struct {
	output        string
	allNamespaces bool
}

// NewBrokerListCommand returns `fw broker list`.
func NewBrokerListCommand(p *params.Params) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Brokers with their address, age and readiness",
		Example: `  fw broker list
  fw broker list --all-namespaces
  fw broker list -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), cmd.OutOrStdout(), p, o)
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &o.output)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the Brokers of every namespace")
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
	list, err := client.Brokers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Brokers: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b eventingv1.Broker) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if o.output != "" {
		return printers.PrintObject(out, o.output, list)
	}
	if len(list.Items) == 0 {
		printers.NoneFound(out, "Brokers", ns, o.allNamespaces)
		return nil
	}
	t := printers.NewListTable(out, o.allNamespaces, "NAME", "URL", "AGE", "READY", "REASON")
	now := p.Now()
	for i := range list.Items {
		b := &list.Items[i]
		ready, reason := printers.Ready(b.Status.Conditions)
		t.Object(b.Namespace, b.Name, address(b), printers.Age(now, b.CreationTimestamp), ready, reason)
	}
	return t.Flush()
}
