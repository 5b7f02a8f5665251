package container

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewContainerUpdateCommand returns `fw source container update`.
func NewContainerUpdateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.ContainerSource]{Kind: &containerFlags{}}
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a ContainerSource: only what the flags say",
		Long: `Change the given settings of a ContainerSource and leave the rest as it
is, then wait until it is ready. --env NAME=VALUE sets one variable and
--env NAME- removes it; the others stay. --arg and --cmd, when given,
replace the container's arguments or command; a single empty value
removes them.`,
		Example: `  # A new image, one more variable and one less:
  fw source container update heartbeats --image registry.example.com/heartbeats:v2 --env PERIOD=5s --env LABEL-

  # No arguments any more:
  fw source container update heartbeats --arg ""`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Update(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
