package container

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewContainerListCommand returns `fw source container list`.
func NewContainerListCommand(p *sourcecmd.Params) *cobra.Command {
	var o sourcecmd.ListOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List ContainerSources with their image, sink, age and readiness",
		Example: `  fw source container list
  fw source container list --all-namespaces -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sourcecmd.List(cmd.Context(), cmd.OutOrStdout(), p, Kind, o)
		},
	}
	o.Add(cmd.Flags(), "ContainerSources")
	return cmd
}
