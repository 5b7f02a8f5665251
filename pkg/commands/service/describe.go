package service

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// NewServiceDescribeCommand returns `fw service describe`.
func NewServiceDescribeCommand(p *params.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a Service: URL, traffic split with tags, revisions, their load and cold starts, right-sizing advice, conditions",
		Example: `  fw service describe hello
  fw service describe hello -o yaml`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDescribe(cmd.Context(), cmd.OutOrStdout(), p, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
	p.AddTargetFlag(cmd.Flags())
	return cmd
}

func runDescribe(ctx context.Context, out io.Writer, p *params.Params, output, name string) error {
	if err := printers.CheckOutput(output); err != nil {
		return err
	}
	client, ns, err := p.Connect()
	if err != nil {
		return err
	}
	svc, err := params.Get(ctx, client.Services(ns).Get, "Service", ns, name)
	if err != nil {
		return err
	}
	if output != "" {
		return printers.PrintObject(out, output, svc)
	}
	revs, err := client.Revisions(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{serving.ServiceLabel.String(): name}).String(),
	})
	if err != nil {
		return fmt.Errorf("listing the revisions of Service %s: %w", name, err)
	}
	routed := map[string]bool{}
	for _, tt := range svc.Status.Traffic {
		routed[tt.RevisionName] = true
	}
	return describe(out, p.Now(), svc, revs.Items, liveFigures(ctx, p, revs.Items, routed))
}

// describe prints svc and its revs; figures are the autoscaler's, by
// Revision name (nil when it has none to give).
func describe(out io.Writer, now time.Time, svc *servingv1.Service, revs []servingv1.Revision, figures map[string]revisionFigures) error {
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	printers.Field(tw, "Name", svc.Name)
	printers.Field(tw, "Namespace", svc.Namespace)
	printers.Field(tw, "URL", printers.URL(svc.Status.URL))
	printers.Field(tw, "Age", printers.Age(now, svc.CreationTimestamp))
	printers.Fields(tw, "Annotations", printers.KeyValues(svc.Annotations))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out)
	traffic := svc.Status.Traffic
	if len(traffic) == 0 || svc.Status.ObservedGeneration != svc.Generation {
		// Not served yet: show what was asked for.
		traffic = svc.Spec.Traffic
	}
	if err := printers.Traffic(out, traffic); err != nil {
		return err
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Revisions:")
	if len(revs) == 0 {
		fmt.Fprintln(out, "  none yet")
	} else {
		slices.SortFunc(revs, func(a, b servingv1.Revision) int { return b.CreationTimestamp.Compare(a.CreationTimestamp.Time) })
		t := printers.NewTable(out, "  ", "NAME", "IMAGE", "DIGEST", "AGE", "PODS", "ACTIVE", "PATH", "READY", "REASON")
		for i := range revs {
			r := &revs[i]
			ready, reason := printers.Ready(r.Status.Conditions)
			image, digest := printers.Image(r)
			t.Row(r.Name, image, printers.ShortDigest(digest), printers.Age(now, r.CreationTimestamp),
				printers.Pods(r.Status.ActualReplicas, r.Status.DesiredReplicas), printers.Active(r.Status.Conditions),
				printers.RequestPath(r.Status.Conditions), ready, reason)
		}
		if err := t.Flush(); err != nil {
			return err
		}
		if err := liveSection(out, revs, figures); err != nil {
			return err
		}
		if err := rightSizing(out, revs); err != nil {
			return err
		}
	}

	fmt.Fprintln(out)
	return printers.Conditions(out, now, svc.Status.Conditions)
}
