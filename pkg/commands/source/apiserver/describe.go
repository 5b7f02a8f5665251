package apiserver

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/printers"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewAPIServerDescribeCommand returns `fw source apiserver describe`.
func NewAPIServerDescribeCommand(p *sourcecmd.Params) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show an ApiServerSource: kinds watched, mode, service account, sink and its URI, conditions",
		Example: `  fw source apiserver describe k8s-events
  fw source apiserver describe k8s-events -o yaml`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Describe(cmd.Context(), cmd.OutOrStdout(), p, Kind, output, args[0])
		},
	}
	printers.AddOutputFlag(cmd.Flags(), &output)
	return cmd
}
