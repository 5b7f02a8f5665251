package revision

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

type listOptions struct {
	output        string
	service       string
	allNamespaces bool
}

// NewRevisionListCommand returns `fw revision list`.
func NewRevisionListCommand(p *params.Params) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Revisions with their Service, traffic, tags and readiness",
		Example: `  fw revision list
  # The revisions of one Service, newest first, as JSON:
  fw revision list --service hello -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), cmd.OutOrStdout(), p, o)
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &o.output)
	cmd.Flags().StringVarP(&o.service, "service", "s", "", "only the revisions of this Service")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the revisions of every namespace")
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
	var opts metav1.ListOptions
	if o.service != "" {
		opts.LabelSelector = labels.SelectorFromSet(labels.Set{serving.ServiceLabel.String(): o.service}).String()
	}
	list, err := client.Revisions(ns).List(ctx, opts)
	if err != nil {
		return fmt.Errorf("listing Revisions: %w", err)
	}
	// Grouped by Service, newest first, as a user reads a history.
	slices.SortFunc(list.Items, func(a, b servingv1.Revision) int {
		return cmp.Or(
			strings.Compare(a.Namespace, b.Namespace),
			strings.Compare(a.Labels[serving.ServiceLabel.String()], b.Labels[serving.ServiceLabel.String()]),
			cmp.Compare(b.ConfigurationGeneration(), a.ConfigurationGeneration()),
			strings.Compare(a.Name, b.Name),
		)
	})
	if o.output != "" {
		return printers.PrintObject(out, o.output, list)
	}
	if len(list.Items) == 0 {
		printers.NoneFound(out, "Revisions", ns, o.allNamespaces)
		return nil
	}
	traffic, err := routingByRevision(ctx, client, ns)
	if err != nil {
		return err
	}
	t := printers.NewListTable(out, o.allNamespaces, "NAME", "SERVICE", "TRAFFIC", "TAGS", "GENERATION", "AGE", "READY", "REASON")
	now := p.Now()
	for i := range list.Items {
		r := &list.Items[i]
		ready, reason := printers.Ready(r.Status.Conditions)
		routed := routingOf(traffic, r)
		percent := ""
		if routed.percent > 0 {
			percent = strconv.FormatInt(routed.percent, 10) + "%"
		}
		t.Object(r.Namespace, r.Name, r.Labels[serving.ServiceLabel.String()], percent, strings.Join(routed.tags, ","),
			r.Labels[serving.ConfigurationGenerationLabel.String()], printers.Age(now, r.CreationTimestamp), ready, reason)
	}
	return t.Flush()
}
