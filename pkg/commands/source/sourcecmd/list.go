package sourcecmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/printers"
)

// ListOptions are the flags of a list verb.
type ListOptions struct {
	Output        string
	AllNamespaces bool
}

// Add registers -o and -A on fs; plural names what is listed, for the
// help.
func (o *ListOptions) Add(fs *pflag.FlagSet, plural string) {
	printers.AddOutputFlag(fs, &o.Output)
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list the "+plural+" of every namespace")
}

// List lists the sources of kind k: as the API has them with -o json or
// yaml, else as a table of the kind's own columns, sink, age and
// readiness.
func List[T Object, L runtime.Object](ctx context.Context, out io.Writer, p *Params, k *Kind[T, L], o ListOptions) error {
	if err := printers.CheckOutput(o.Output); err != nil {
		return err
	}
	client, ns, err := p.ConnectSources()
	if err != nil {
		return err
	}
	if o.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	if o.Output != "" {
		list, err := k.Client(client, ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %ss: %w", k.Kind, err)
		}
		return printers.PrintObject(out, o.Output, list)
	}
	items, err := k.list(ctx, client, ns)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		printers.NoneFound(out, k.Kind+"s", ns, o.AllNamespaces)
		return nil
	}
	headers := append(append([]string{"NAME"}, k.Columns...), "SINK", "AGE", "READY", "REASON")
	t := printers.NewListTable(out, o.AllNamespaces, headers...)
	now := p.Now()
	for _, obj := range items {
		spec, _ := k.Source(obj)
		ready, reason := printers.Ready(obj.GetStatus().Conditions)
		row := append(append([]string{obj.GetName()}, k.Row(obj)...),
			delivery.FormatDestination(&spec.Sink, obj.GetNamespace()), printers.Age(now, obj.GetCreationTimestamp()), ready, reason)
		t.Object(obj.GetNamespace(), row...)
	}
	return t.Flush()
}
