package container

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewContainerCreateCommand returns `fw source container create`.
func NewContainerCreateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.ContainerSource]{Kind: &containerFlags{}}
	cmd := &cobra.Command{
		Use:   "create NAME --image IMAGE --sink SINK",
		Short: "Create a ContainerSource and wait until it is ready",
		Long: `Create a ContainerSource that runs an image whose container finds the
sink's URL in K_SINK and posts its events there. By default the command
waits until the source is ready (its SinkBinding bound and its
Deployment available) and prints that URL.`,
		Example: `  # Run an image that sends heartbeats to the Broker "default":
  fw source container create heartbeats --image ko://example.com/heartbeats --sink broker:default

  # With a command, arguments and a variable:
  fw source container create heartbeats --image registry.example.com/heartbeats:v1 \
    --cmd /app/heartbeats --arg --period --arg 10 --env LABEL=demo --sink ksvc:event-display`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Create(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
