package binding

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewBindingDescribeCommand returns `fw source binding describe`.
func NewBindingDescribeCommand(p *sourcecmd.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a SinkBinding: subject, sink and its URI, conditions",
		Example: `  fw source binding describe hello-sink
  fw source binding describe hello-sink -o yaml`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Describe(cmd.Context(), cmd.OutOrStdout(), p, Kind, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
	return cmd
}
