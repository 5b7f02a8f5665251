package binding

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewBindingDeleteCommand returns `fw source binding delete`.
func NewBindingDeleteCommand(p *sourcecmd.Params) *cobra.Command {
	var w flags.WaitFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete SinkBindings: their subjects' pods lose K_SINK",
		Example: `  fw source binding delete hello-sink
  # Return only once it is gone:
  fw source binding delete hello-sink --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Delete(cmd.Context(), cmd.OutOrStdout(), p, Kind, &w, args)
		},
	}
	w.Add(cmd.Flags(), "each SinkBinding is gone", false)
	return cmd
}
