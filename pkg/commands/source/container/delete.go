package container

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewContainerDeleteCommand returns `fw source container delete`.
func NewContainerDeleteCommand(p *sourcecmd.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete ContainerSources, with their Deployments",
		Example: `  fw source container delete heartbeats
  # Return only once it is gone:
  fw source container delete heartbeats --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Delete(cmd.Context(), cmd.OutOrStdout(), p, Kind, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each ContainerSource is gone", false)
	return cmd
}
