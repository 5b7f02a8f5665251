package binding

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewBindingUpdateCommand returns `fw source binding update`.
func NewBindingUpdateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.SinkBinding]{Kind: &bindingFlags{}}
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a SinkBinding: only what the flags say",
		Long: `Change the given settings of a SinkBinding and leave the rest as it is,
then wait until it is ready. A new --subject unbinds the old one: its
pods lose the variables. --ce-override KEY=VALUE adds or changes one
extension attribute and --ce-override KEY- removes it; the others stay.`,
		Example: `  # Bind the CronJob "nightly" instead:
  fw source binding update hello-sink --subject CronJob:batch/v1:nightly

  # Send to another Knative Service:
  fw source binding update hello-sink --sink ksvc:event-display`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Update(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
