package sourcecmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	sourcesv1client "flywheel.dev/pkg/client/clientset/versioned/typed/sources/v1"
)

// Object is a source of one kind as its typed client returns it: a
// *PingSource, *ApiServerSource, *SinkBinding or *ContainerSource.
type Object interface {
	metav1.Object
	runtime.Object
	GetGroupVersionKind() schema.GroupVersionKind
	GetStatus() *duckv1.Status
}

// Client is the part of a kind's typed client that the verbs use; each
// generated client (PingSourceInterface …) is one.
type Client[T Object, L runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Kind describes one kind of source to the verbs: how to reach it, make
// one, and show it. T is the object, L its list.
type Kind[T Object, L runtime.Object] struct {
	// Kind is the API kind, as messages name it: PingSource.
	Kind string
	// Noun is the word after `fw source`: ping.
	Noun string
	// Resource is the kind's plural resource: pingsources.
	Resource string
	// CreateFlags are the flags create needs besides the name, for
	// messages that say how to create one: "--sink SINK".
	CreateFlags string

	// Client returns the kind's client in namespace ns.
	Client func(c sourcesv1client.SourcesV1Interface, ns string) Client[T, L]
	// New returns an empty object called name in namespace ns.
	New func(ns, name string) T
	// Items returns the objects of a list.
	Items func(L) []T
	// Source returns what every kind shares: the sink and CloudEvents
	// overrides of its spec, and the resolved sink and event attributes
	// of its status.
	Source func(T) (*duckv1.SourceSpec, *duckv1.SourceStatus)

	// Columns are the kind's own columns of its list, between NAME and
	// SINK; Row returns their values for one object.
	Columns []string
	Row     func(T) []string
	// Describe writes the kind's own fields of a description to w, a
	// tabwriter, between Age and Sink.
	Describe func(w io.Writer, obj T)
}

// Flags are the flags of one kind that shape its spec, besides the sink
// and the CloudEvents overrides that every kind has. Only the flags a user
// gave change anything, so that create and update share them.
type Flags[T Object] interface {
	// Add registers the flags on fs.
	Add(fs *pflag.FlagSet)
	// Require fails when a flag that create needs was not given.
	Require() error
	// Apply changes obj as the given flags say and leaves the rest
	// alone; references are in namespace. On error obj may be half
	// changed: callers apply to a copy.
	Apply(obj T, namespace string) error
}

// GroupResource returns the kind's resource in the sources API group, as
// `kn source list` shows it: pingsources.sources.knative.dev.
func (k *Kind[T, L]) GroupResource() schema.GroupResource {
	return sourcesv1.Resource(k.Resource)
}

// KindName returns the API kind.
func (k *Kind[T, L]) KindName() string { return k.Kind }

// Command returns how a user runs verb on this kind: fw source ping list.
func (k *Kind[T, L]) Command(verb string) string {
	return "fw source " + k.Noun + " " + verb
}

// Listed is a source of any kind, as `fw source list` shows it.
type Listed struct {
	Object Object
	Sink   *duckv1.Destination
}

// Lister lists the sources of one kind, for `fw source list`; every
// *Kind is one.
type Lister interface {
	KindName() string
	GroupResource() schema.GroupResource
	ListSources(ctx context.Context, c sourcesv1client.SourcesV1Interface, ns string) ([]Listed, error)
}

// ListSources lists the sources of the kind in ns (every namespace when
// empty), sorted by namespace and name.
func (k *Kind[T, L]) ListSources(ctx context.Context, c sourcesv1client.SourcesV1Interface, ns string) ([]Listed, error) {
	items, err := k.list(ctx, c, ns)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, len(items))
	for i, obj := range items {
		spec, _ := k.Source(obj)
		out[i] = Listed{Object: obj, Sink: &spec.Sink}
	}
	return out, nil
}

func (k *Kind[T, L]) list(ctx context.Context, c sourcesv1client.SourcesV1Interface, ns string) ([]T, error) {
	list, err := k.Client(c, ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", k.Kind, err)
	}
	items := k.Items(list)
	slices.SortFunc(items, func(a, b T) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
	})
	return items, nil
}

// ExactlyOneName returns the argument check of the verbs that take one
// source of the kind.
func (k *Kind[T, L]) ExactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the name of one %s, e.g. my-%s (got %d arguments)", k.Kind, k.Noun, len(args))
	}
	return nil
}
