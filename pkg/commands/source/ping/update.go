package ping

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewPingUpdateCommand returns `fw source ping update`.
func NewPingUpdateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.PingSource]{Kind: &pingFlags{}}
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a PingSource: only what the flags say",
		Long: `Change the given settings of a PingSource and leave the rest as it is,
then wait until it is ready. --ce-override KEY=VALUE adds or changes one
extension attribute and --ce-override KEY- removes it; the others stay.
--data replaces the data (and its encoding); an empty --data, --timezone
or --content-type removes it.`,
		Example: `  # Every five minutes from now on:
  fw source ping update heartbeat --schedule "*/5 * * * *"

  # Other data, and drop the extension attribute "team":
  fw source ping update heartbeat --data '{"beat": 2}' --ce-override team-

  # Send to another Broker, without waiting:
  fw source ping update heartbeat --sink broker:audit --no-wait`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Update(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
