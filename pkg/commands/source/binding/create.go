package binding

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewBindingCreateCommand returns `fw source binding create`.
func NewBindingCreateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.SinkBinding]{Kind: &bindingFlags{}}
	cmd := &cobra.Command{
		Use:   "create NAME --subject KIND:APIVERSION:NAME|SELECTOR --sink SINK",
		Short: "Create a SinkBinding and wait until it is ready",
		Long: `Create a SinkBinding that gives the pods of its subject the sink's URL in
K_SINK. By default the command waits until the binding is ready and
prints that URL.

--subject takes KIND:APIVERSION:NAME for one object, as kn does, or
KIND:APIVERSION:SELECTOR for every object of the kind whose labels
match (a label selector as kubectl -l takes it). The subject is in the
binding's namespace. Its pods get the variables when they are next made:
a Deployment rolls out anew.`,
		Example: `  # The pods of the Deployment "hello" send to the Broker "default":
  fw source binding create hello-sink --subject Deployment:apps/v1:hello --sink broker:default

  # Every Job labelled app=heartbeat, with an extension attribute on its events:
  fw source binding create heartbeats --subject Job:batch/v1:app=heartbeat \
    --sink ksvc:event-display --ce-override team=ops`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Create(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
