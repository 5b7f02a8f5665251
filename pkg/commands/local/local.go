// Package local holds `fw local`: Flywheel on this machine.
package local

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/params"
)

// NewLocalCommand returns `fw local` and its verbs.
func NewLocalCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run Flywheel on this machine: the real control plane, no Docker",
	}
	cmd.AddCommand(
		NewLocalUpCommand(p),
		NewLocalDownCommand(p),
		NewLocalStatusCommand(p),
		NewLocalLogsCommand(p),
	)
	return cmd
}
