package source

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/source/apiserver"
	"flywheel.dev/pkg/commands/source/binding"
	"flywheel.dev/pkg/commands/source/container"
	"flywheel.dev/pkg/commands/source/ping"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewSourceCommand returns `fw source` and its subcommands, which reach
// the sources API through the kubeconfig of p.
func NewSourceCommand(p *params.Params) *cobra.Command {
	return newSourceCommand(&sourcecmd.Params{Params: p})
}

// newSourceCommand returns `fw source` with the sources API client that
// p gives, which tests replace.
func newSourceCommand(p *sourcecmd.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "source",
		Aliases: []string{"sources"},
		Short:   "Create, change, list, describe and delete event sources",
		Long: `An event source produces CloudEvents and posts them to its sink: a
Broker, a Knative Service, a Kubernetes Service or a URL.

  ping       a PingSource sends the same event at every tick of a cron schedule
  apiserver  an ApiServerSource sends an event for each change to the Kubernetes objects it watches
  binding    a SinkBinding gives the pods of a Deployment, Job or any object with a
             pod template the sink's URL in K_SINK, for code that sends events itself
  container  a ContainerSource runs an image that sends events to K_SINK

fw source list lists the sources of every kind.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewSourceListCommand(p),
		ping.NewPingCommand(p),
		apiserver.NewAPIServerCommand(p),
		binding.NewBindingCommand(p),
		container.NewContainerCommand(p),
	)
	return cmd
}

// kinds are the kinds fw source list lists, in the order of its --type
// help.
var kinds = []sourcecmd.Lister{ping.Kind, apiserver.Kind, binding.Kind, container.Kind}
