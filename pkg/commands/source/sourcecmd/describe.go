package sourcecmd

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/printers"
)

// Describe shows the source called name of kind k: as the API has it
// with output json or yaml, else its settings, sink, the events it sends
// and its conditions.
func Describe[T Object, L runtime.Object](ctx context.Context, out io.Writer, p *Params, k *Kind[T, L], output, name string) error {
	if err := printers.CheckOutput(output); err != nil {
		return err
	}
	client, ns, err := p.ConnectSources()
	if err != nil {
		return err
	}
	obj, err := get(ctx, k.Client(client, ns), k, ns, name)
	if err != nil {
		return err
	}
	if output != "" {
		return printers.PrintObject(out, output, obj)
	}
	return k.describe(out, p.Now(), obj)
}

func (k *Kind[T, L]) describe(out io.Writer, now time.Time, obj T) error {
	ns := obj.GetNamespace()
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	printers.Field(tw, "Name", obj.GetName())
	printers.Field(tw, "Namespace", ns)
	printers.Field(tw, "Age", printers.Age(now, obj.GetCreationTimestamp()))
	k.Describe(tw, obj)
	spec, status := k.Source(obj)
	printers.Field(tw, "Sink", delivery.FormatDestination(&spec.Sink, ns))
	uri := sinkURI(status)
	if uri == "" {
		uri = "not resolved yet"
	}
	printers.Field(tw, "Sink URI", uri)
	if o := spec.CloudEventOverrides; o != nil {
		printers.Fields(tw, "CE overrides", printers.KeyValues(o.Extensions))
	}
	events := make([]string, 0, len(status.CloudEventAttributes))
	for _, a := range status.CloudEventAttributes {
		events = append(events, fmt.Sprintf("type %s, source %s", a.Type, a.Source))
	}
	printers.Fields(tw, "Events", events)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printers.Conditions(out, now, obj.GetStatus().Conditions)
}
