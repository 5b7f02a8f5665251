package service

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

// NewServiceListCommand returns `fw service list`.
func NewServiceListCommand(p *params.Params) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Services with their URL, latest revision, age and readiness",
		Example: `  fw service list
  fw service list --all-namespaces
  fw service list -o yaml
  # The Services kept as files in ./deploy (NAMESPACE/ksvc/NAME.yaml):
  fw service list -A --target ./deploy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), cmd.OutOrStdout(), p, o)
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &o.output)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the Services of every namespace")
	p.AddTargetFlag(cmd.Flags())
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
	list, err := client.Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b servingv1.Service) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if o.output != "" {
		return printers.PrintObject(out, o.output, list)
	}
	if len(list.Items) == 0 {
		printers.NoneFound(out, "Services", ns, o.allNamespaces)
		return nil
	}
	t := printers.NewListTable(out, o.allNamespaces, "NAME", "URL", "LATEST", "AGE", "READY", "REASON")
	now := p.Now()
	for _, s := range list.Items {
		ready, reason := printers.Ready(s.Status.Conditions)
		t.Object(s.Namespace, s.Name, printers.URL(s.Status.URL), s.Status.LatestCreatedRevisionName,
			printers.Age(now, s.CreationTimestamp), ready, reason)
	}
	return t.Flush()
}
