package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

const typeFlag = "type"

type listOptions struct {
	sourcecmd.ListOptions
	types []string
}

// NewSourceListCommand returns `fw source list`.
func NewSourceListCommand(p *sourcecmd.Params) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the sources of every kind with their type, sink and readiness",
		Long: `List the sources of every kind, PingSources, ApiServerSources,
SinkBindings and ContainerSources, with the columns kn source list
shows. -o json or -o yaml prints a List of the objects as the API has
them.`,
		Example: `  fw source list
  # Only PingSources and ApiServerSources, in every namespace:
  fw source list --type PingSource --type apiserversource -A
  fw source list -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), cmd.OutOrStdout(), p, o)
		},
	}
	o.Add(cmd.Flags(), "sources")
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.KindName()
	}
	cmd.Flags().StringSliceVarP(&o.types, typeFlag, "t", nil,
		"list only the sources of this kind: "+strings.Join(names, ", ")+" (any case; repeatable, comma separated)")
	return cmd
}

func runList(ctx context.Context, out io.Writer, p *sourcecmd.Params, o listOptions) error {
	if err := printers.CheckOutput(o.Output); err != nil {
		return err
	}
	selected, err := selectKinds(o.types)
	if err != nil {
		return err
	}
	client, ns, err := p.ConnectSources()
	if err != nil {
		return err
	}
	if o.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	listed, err := listAll(ctx, client, ns, selected)
	if err != nil {
		return err
	}
	if o.Output != "" {
		return printList(out, o.Output, listed)
	}
	if len(listed) == 0 {
		printers.NoneFound(out, "sources", ns, o.AllNamespaces)
		return nil
	}
	t := printers.NewListTable(out, o.AllNamespaces, "NAME", "TYPE", "RESOURCE", "SINK", "READY")
	for _, l := range listed {
		obj := l.source.Object
		ready, _ := printers.Ready(obj.GetStatus().Conditions)
		t.Object(obj.GetNamespace(), obj.GetName(), l.kind.KindName(), l.kind.GroupResource().String(),
			delivery.FormatDestination(l.source.Sink, obj.GetNamespace()), ready)
	}
	return t.Flush()
}

// selectKinds returns the kinds --type names, every kind when none. A
// kind may be named by its kind, in any case, its resource, or the word
// fw source takes for it.
func selectKinds(types []string) ([]sourcecmd.Lister, error) {
	if len(types) == 0 {
		return kinds, nil
	}
	var selected []sourcecmd.Lister
	for _, t := range types {
		i := slices.IndexFunc(kinds, func(k sourcecmd.Lister) bool {
			gr := k.GroupResource()
			return strings.EqualFold(t, k.KindName()) || strings.EqualFold(t, gr.Resource) || strings.EqualFold(t, gr.String())
		})
		if i < 0 {
			names := make([]string, len(kinds))
			for j, k := range kinds {
				names[j] = k.KindName()
			}
			return nil, fmt.Errorf("--%s %q: not a kind of source; want one of %s", typeFlag, t, strings.Join(names, ", "))
		}
		if !slices.Contains(selected, kinds[i]) {
			selected = append(selected, kinds[i])
		}
	}
	return selected, nil
}

// listed is a source and its kind.
type listed struct {
	kind   sourcecmd.Lister
	source sourcecmd.Listed
}

// listAll lists the sources of the kinds in ns, sorted by namespace, name
// and kind. A kind the cluster does not serve has none.
func listAll(ctx context.Context, client sourcesv1client.SourcesV1Interface, ns string, selected []sourcecmd.Lister) ([]listed, error) {
	var all []listed
	for _, k := range selected {
		sources, err := k.ListSources(ctx, client, ns)
		if apierrs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, s := range sources {
			all = append(all, listed{kind: k, source: s})
		}
	}
	slices.SortStableFunc(all, func(a, b listed) int {
		oa, ob := a.source.Object, b.source.Object
		return strings.Compare(oa.GetNamespace()+"/"+oa.GetName()+"/"+a.kind.KindName(), ob.GetNamespace()+"/"+ob.GetName()+"/"+b.kind.KindName())
	})
	return all, nil
}

// printList writes the sources as one List, as kubectl get does for
// objects of several kinds: each item with its apiVersion and kind.
func printList(out io.Writer, format string, sources []listed) error {
	if format == printers.NameOutput || format == printers.URLOutput {
		for _, s := range sources {
			if err := printers.PrintObject(out, format, s.source.Object); err != nil {
				return err
			}
		}
		return nil
	}
	list := &metav1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}, Items: []runtime.RawExtension{}}
	for _, s := range sources {
		obj, _ := s.source.Object.DeepCopyObject().(sourcecmd.Object)
		obj.GetObjectKind().SetGroupVersionKind(obj.GetGroupVersionKind())
		list.Items = append(list.Items, runtime.RawExtension{Object: obj})
	}
	var b []byte
	var err error
	if format == printers.JSON {
		b, err = json.MarshalIndent(list, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(list)
	}
	if err != nil {
		return fmt.Errorf("encoding as %s: %w", format, err)
	}
	_, err = out.Write(b)
	return err
}
