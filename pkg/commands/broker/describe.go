package broker

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// NewBrokerDescribeCommand returns `fw broker describe`.
func NewBrokerDescribeCommand(p *params.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a Broker: address, class, delivery settings, conditions",
		Example: `  fw broker describe default
  fw broker describe default -o yaml`,
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
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return err
	}
	b, err := params.Get(ctx, client.Brokers(ns).Get, "Broker", ns, name)
	if err != nil {
		return err
	}
	if output != "" {
		return printers.PrintObject(out, output, b)
	}
	return describe(out, p.Now(), b)
}

func describe(out io.Writer, now time.Time, b *eventingv1.Broker) error {
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	printers.Field(tw, "Name", b.Name)
	printers.Field(tw, "Namespace", b.Namespace)
	class, _ := eventing.BrokerClassAnnotation.Get(b.Annotations)
	printers.Field(tw, "Class", class)
	printers.Field(tw, "URL", address(b))
	printers.Field(tw, "Age", printers.Age(now, b.CreationTimestamp))
	delivery.Describe(tw, b.Spec.Delivery, b.Namespace)
	if u := b.Status.DeadLetterSinkURI; u != nil {
		printers.Field(tw, "Dead letter URI", u.String())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printers.Conditions(out, now, b.Status.Conditions)
}
