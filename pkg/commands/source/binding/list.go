package binding

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewBindingListCommand returns `fw source binding list`.
func NewBindingListCommand(p *sourcecmd.Params) *cobra.Command {
	var o sourcecmd.ListOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List SinkBindings with their subject, sink, age and readiness",
		Example: `  fw source binding list
  fw source binding list --all-namespaces -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sourcecmd.List(cmd.Context(), cmd.OutOrStdout(), p, Kind, o)
		},
	}
	o.Add(cmd.Flags(), "SinkBindings")
	return cmd
}
