package ping

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewPingDeleteCommand returns `fw source ping delete`.
func NewPingDeleteCommand(p *sourcecmd.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete PingSources: their events stop",
		Example: `  fw source ping delete heartbeat
  # Return only once it is gone:
  fw source ping delete heartbeat --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Delete(cmd.Context(), cmd.OutOrStdout(), p, Kind, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each PingSource is gone", false)
	return cmd
}
