package revision

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
	servingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/serving/v1"
	"flywheel.dev/pkg/commands/params"
)

// NewRevisionCommand returns `fw revision` and its verbs.
func NewRevisionCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "revision",
		Aliases: []string{"revisions", "rev"},
		Short:   "List, describe and delete Revisions",
		Long: `A Revision is an immutable snapshot of a Service's template: the image
(pinned to a digest), its settings and its scale bounds. A Service makes
one for each change of its template.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewRevisionListCommand(p),
		NewRevisionDescribeCommand(p),
		NewRevisionDeleteCommand(p),
	)
	return cmd
}

// routing is the share of traffic and the tags a Revision has in the
// Services that route to it.
type routing struct {
	percent int64
	tags    []string
	urls    []string
}

// takesTraffic reports whether a Route serves the Revision: a share of
// traffic or a tag of its own. A nil routing is none.
func (r *routing) takesTraffic() bool {
	return r != nil && (r.percent > 0 || len(r.tags) > 0)
}

// routingByRevision reads the served traffic of the Services in ns (all
// namespaces when empty), keyed by namespace/revision.
func routingByRevision(ctx context.Context, client servingv1client.ServingV1Interface, ns string) (map[string]*routing, error) {
	services, err := client.Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Services for their traffic: %w", err)
	}
	out := map[string]*routing{}
	for _, s := range services.Items {
		for _, tt := range s.Status.Traffic {
			if tt.RevisionName == "" {
				continue
			}
			key := s.Namespace + "/" + tt.RevisionName
			r := out[key]
			if r == nil {
				r = &routing{}
				out[key] = r
			}
			r.percent += ptr.Deref(tt.Percent, 0)
			if tt.Tag != "" {
				r.tags = append(r.tags, tt.Tag)
				if tt.URL != nil {
					r.urls = append(r.urls, tt.Tag+" "+tt.URL.String())
				}
			}
		}
	}
	return out, nil
}

func routingOf(m map[string]*routing, r *servingv1.Revision) routing {
	if got := m[r.Namespace+"/"+r.Name]; got != nil {
		return *got
	}
	return routing{}
}
