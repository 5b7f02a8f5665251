package ping

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewPingListCommand returns `fw source ping list`.
func NewPingListCommand(p *sourcecmd.Params) *cobra.Command {
	var o sourcecmd.ListOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List PingSources with their schedule, sink, age and readiness",
		Example: `  fw source ping list
  fw source ping list --all-namespaces -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sourcecmd.List(cmd.Context(), cmd.OutOrStdout(), p, Kind, o)
		},
	}
	o.Add(cmd.Flags(), "PingSources")
	return cmd
}
