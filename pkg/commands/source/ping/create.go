package ping

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewPingCreateCommand returns `fw source ping create`.
func NewPingCreateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.PingSource]{Kind: &pingFlags{}}
	cmd := &cobra.Command{
		Use:   "create NAME --sink SINK",
		Short: "Create a PingSource and wait until it is ready",
		Long: `Create a PingSource that sends an event to its sink at every tick of its
schedule. By default the command waits until the PingSource is ready and
prints the URL its events go to.

The schedule is standard cron (minute hour day-of-month month
day-of-week) or a descriptor such as @hourly or @daily; @every is not
taken, as its ticks would move whenever the adapter restarts. It is read
in UTC unless --timezone names a zone (or the schedule begins with
CRON_TZ=ZONE).

--data is the data of every event, as text; with --encoding base64 it is
bytes written in base64. --content-type sets the events' datacontenttype:
with application/json the data must be JSON.`,
		Example: `  # Every minute, to the Broker "default":
  fw source ping create heartbeat --sink broker:default

  # At 09:00 on weekdays, Berlin time, with JSON data, to a Knative Service:
  fw source ping create standup --schedule "0 9 * * 1-5" --timezone Europe/Berlin \
    --data '{"meeting": "standup"}' --content-type application/json --sink ksvc:notifier

  # Every two minutes, bytes written in base64, with an extension attribute:
  fw source ping create blob --schedule "*/2 * * * *" --data aGVsbG8= --encoding base64 \
    --ce-override team=ops --sink https://events.example.com/in`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Create(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
