package container

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewContainerDescribeCommand returns `fw source container describe`.
func NewContainerDescribeCommand(p *sourcecmd.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a ContainerSource: image, command, arguments, env, sink and its URI, conditions",
		Example: `  fw source container describe heartbeats
  fw source container describe heartbeats -o yaml`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Describe(cmd.Context(), cmd.OutOrStdout(), p, Kind, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
	return cmd
}
