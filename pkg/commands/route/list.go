package route

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

type listOptions struct {
	output        string
	allNamespaces bool
}

// NewRouteListCommand returns `fw route list`.
func NewRouteListCommand(p *params.Params) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Routes with their URL, age and readiness",
		Example: `  fw route list
  fw route list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), cmd.OutOrStdout(), p, o)
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &o.output)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the Routes of every namespace")
	return cmd
}

func runList(ctx context.Context, out io.Writer, p *params.Params, o listOptions) error {
	if err := printers.CheckOutput(o.output); err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	if o.allNamespaces {
		ns = metav1.NamespaceAll
	}
	list, err := client.Routes(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Routes: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b servingv1.Route) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if o.output != "" {
		return printers.PrintObject(out, o.output, list)
	}
	if len(list.Items) == 0 {
		printers.NoneFound(out, "Routes", ns, o.allNamespaces)
		return nil
	}
	t := printers.NewListTable(out, o.allNamespaces, "NAME", "URL", "AGE", "READY", "REASON")
	now := p.Now()
	for _, r := range list.Items {
		ready, reason := printers.Ready(r.Status.Conditions)
		t.Object(r.Namespace, r.Name, printers.URL(r.Status.URL), printers.Age(now, r.CreationTimestamp), ready, reason)
	}
	return t.Flush()
}
