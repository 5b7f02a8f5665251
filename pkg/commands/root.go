package commands

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/broker"
	"flywheel.dev/pkg/commands/container"
	"flywheel.dev/pkg/commands/event"
	"flywheel.dev/pkg/commands/local"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/revision"
	"flywheel.dev/pkg/commands/route"
	"flywheel.dev/pkg/commands/service"
	"flywheel.dev/pkg/commands/source"
	"flywheel.dev/pkg/commands/trigger"
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
	root.AddCommand(
		service.NewServiceCommand(p),
		revision.NewRevisionCommand(p),
		container.NewContainerCommand(p),
		route.NewRouteCommand(p),
		broker.NewBrokerCommand(p),
		trigger.NewTriggerCommand(p),
		event.NewEventCommand(p),
		source.NewSourceCommand(p),
		local.NewLocalCommand(p),
	)
	return root
}
