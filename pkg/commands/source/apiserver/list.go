package apiserver

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewAPIServerListCommand returns `fw source apiserver list`.
func NewAPIServerListCommand(p *sourcecmd.Params) *cobra.Command {
	var o sourcecmd.ListOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List ApiServerSources with the kinds they watch, sink, age and readiness",
		Example: `  fw source apiserver list
  fw source apiserver list --all-namespaces -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sourcecmd.List(cmd.Context(), cmd.OutOrStdout(), p, Kind, o)
		},
	}
	o.Add(cmd.Flags(), "ApiServerSources")
	return cmd
}
