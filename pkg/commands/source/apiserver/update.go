package apiserver

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewAPIServerUpdateCommand returns `fw source apiserver update`.
func NewAPIServerUpdateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.ApiServerSource]{Kind: &apiServerFlags{}}
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change an ApiServerSource: only what the flags say",
		Long: `Change the given settings of an ApiServerSource and leave the rest as it
is, then wait until it is ready. The --resource flags, when given,
replace the kinds watched: name every kind the source is to watch.
--ce-override KEY=VALUE adds or changes one extension attribute and
--ce-override KEY- removes it; the others stay.`,
		Example: `  # Watch Pods as well as Events:
  fw source apiserver update k8s-events --resource Event:v1 --resource Pod:v1

  # Send whole objects, watched with another account:
  fw source apiserver update k8s-events --mode Resource --service-account watcher`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Update(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
