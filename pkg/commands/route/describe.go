package route

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/apis/serving"
	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// NewRouteDescribeCommand returns `fw route describe`.
func NewRouteDescribeCommand(p *params.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a Route: URLs, traffic split with tags, conditions",
		Example: `  fw route describe hello
  fw route describe hello -o yaml`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDescribe(cmd.Context(), cmd.OutOrStdout(), p, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
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
	route, err := params.Get(ctx, client.Routes(ns).Get, "Route", ns, name)
	if err != nil {
		return err
	}
	if output != "" {
		return printers.PrintObject(out, output, route)
	}
	return describe(out, p.Now(), route)
}

func describe(out io.Writer, now time.Time, route *servingv1.Route) error {
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	printers.Field(tw, "Name", route.Name)
	printers.Field(tw, "Namespace", route.Namespace)
	if s := route.Labels[serving.ServiceLabel.String()]; s != "" {
		printers.Field(tw, "Service", s)
	}
	printers.Field(tw, "URL", printers.URL(route.Status.URL))
	if a := route.Status.Address; a != nil && a.URL != nil {
		printers.Field(tw, "Address", a.URL.String())
	}
	printers.Field(tw, "Age", printers.Age(now, route.CreationTimestamp))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	traffic := route.Status.Traffic
	if len(traffic) == 0 || route.Status.ObservedGeneration != route.Generation {
		traffic = route.Spec.Traffic
	}
	if err := printers.Traffic(out, traffic); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printers.Conditions(out, now, route.Status.Conditions)
}
