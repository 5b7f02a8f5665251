package ping

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewPingDescribeCommand returns `fw source ping describe`.
func NewPingDescribeCommand(p *sourcecmd.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a PingSource: schedule, data, sink and its URI, the events it sends, conditions",
		Example: `  fw source ping describe heartbeat
  fw source ping describe heartbeat -o yaml`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Describe(cmd.Context(), cmd.OutOrStdout(), p, Kind, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
	return cmd
}
