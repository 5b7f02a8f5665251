package trigger

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// NewTriggerDescribeCommand returns `fw trigger describe`.
func NewTriggerDescribeCommand(p *params.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a Trigger: Broker, filter, subscriber and its URI, dead-letter sink, conditions",
		Example: `  fw trigger describe orders
  fw trigger describe orders -o yaml`,
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
	t, err := params.Get(ctx, client.Triggers(ns).Get, "Trigger", ns, name)
	if err != nil {
		return err
	}
	if output != "" {
		return printers.PrintObject(out, output, t)
	}
	return describe(out, p.Now(), t)
}

func describe(out io.Writer, now time.Time, t *eventingv1.Trigger) error {
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	printers.Field(tw, "Name", t.Name)
	printers.Field(tw, "Namespace", t.Namespace)
	printers.Field(tw, "Broker", t.Spec.Broker)
	printers.Field(tw, "Age", printers.Age(now, t.CreationTimestamp))
	order, ok := eventing.DeliveryOrderAnnotation.Get(t.Annotations)
	if !ok {
		order = eventing.DeliveryOrderUnordered
	}
	printers.Field(tw, "Order", order)

	var filter []string
	if t.Spec.Filter != nil {
		filter = printers.KeyValues(t.Spec.Filter.Attributes)
	}
	for _, f := range t.Spec.Filters {
		filter = append(filter, expression(f))
	}
	if len(filter) == 0 {
		filter = []string{"none: every event of the Broker"}
	}
	printers.Fields(tw, "Filter", filter)

	printers.Field(tw, "Subscriber", delivery.FormatDestination(&t.Spec.Subscriber, t.Namespace))
	printers.Field(tw, "Subscriber URI", printers.URL(t.Status.SubscriberURI))
	delivery.Describe(tw, t.Spec.Delivery, t.Namespace)
	if u := t.Status.DeadLetterSinkURI; u != nil {
		// The Trigger's own dead-letter sink, or its Broker's.
		printers.Field(tw, "Dead letter URI", u.String())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printers.Conditions(out, now, t.Status.Conditions)
}

// expression writes one filter of spec.filters on a line: exact, prefix
// and suffix as name(attribute=value), the others around what they hold.
func expression(f eventingv1.SubscriptionsAPIFilter) string {
	var parts []string
	for _, d := range []struct {
		name  string
		attrs map[string]string
	}{{"exact", f.Exact}, {"prefix", f.Prefix}, {"suffix", f.Suffix}} {
		for _, k := range slices.Sorted(maps.Keys(d.attrs)) {
			parts = append(parts, fmt.Sprintf("%s(%s=%s)", d.name, k, d.attrs[k]))
		}
	}
	for _, group := range []struct {
		name    string
		filters []eventingv1.SubscriptionsAPIFilter
	}{{"all", f.All}, {"any", f.Any}} {
		if group.filters == nil {
			continue
		}
		inner := make([]string, len(group.filters))
		for i, g := range group.filters {
			inner[i] = expression(g)
		}
		parts = append(parts, group.name+"("+strings.Join(inner, ", ")+")")
	}
	if f.Not != nil {
		parts = append(parts, "not("+expression(*f.Not)+")")
	}
	if f.CESQL != "" {
		parts = append(parts, "cesql("+f.CESQL+")")
	}
	return strings.Join(parts, " ")
}
