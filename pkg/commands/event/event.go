package event

import (
	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/params"
)

// NewEventCommand returns `fw event` and its verbs.
func NewEventCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "event",
		Aliases: []string{"events"},
		Short:   "Send CloudEvents to a Broker or a URL",
		Long: `A CloudEvent is a message with a type, a source, an id and optional data,
as the CloudEvents specification defines it. Brokers take them in and
Triggers deliver them; fw event send posts one, to try a Broker and its
Triggers or any service that takes CloudEvents.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(NewEventSendCommand(p))
	return cmd
}
