package commands

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/local"
	"flywheel.dev/pkg/commands/params"
)

// NewParams returns the shared parameters with their defaults.
func NewParams() *params.Params { return &params.Params{} }

// NewRootCommand returns `fw` with every subcommand.
func NewRootCommand(p *params.Params) *cobra.Command {
	root := &cobra.Command{
		Use:           "fw",
		Short:         "Flywheel: Knative Serving on Kubernetes, and on one machine without Docker",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(local.NewLocalCommand(p))
	return root
}
