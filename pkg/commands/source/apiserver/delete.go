package apiserver

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewAPIServerDeleteCommand returns `fw source apiserver delete`.
func NewAPIServerDeleteCommand(p *sourcecmd.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete ApiServerSources: their adapters stop watching",
		Example: `  fw source apiserver delete k8s-events
  # Return only once it is gone:
  fw source apiserver delete k8s-events --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Delete(cmd.Context(), cmd.OutOrStdout(), p, Kind, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each ApiServerSource is gone", false)
	return cmd
}
