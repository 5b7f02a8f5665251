package apiserver

import (
	"github.com/spf13/cobra"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
	"flywheel.dev/pkg/commands/source/sourcecmd"
)

// NewAPIServerCreateCommand returns `fw source apiserver create`.
func NewAPIServerCreateCommand(p *sourcecmd.Params) *cobra.Command {
	o := sourcecmd.WriteOptions[*sourcesv1.ApiServerSource]{Kind: &apiServerFlags{}}
	cmd := &cobra.Command{
		Use:   "create NAME --resource KIND:APIVERSION[:SELECTOR] --sink SINK",
		Short: "Create an ApiServerSource and wait until it is ready",
		Long: `Create an ApiServerSource that watches the objects of the kinds --resource
names, in its namespace, and sends an event for each one added, updated
or deleted. By default the command waits until the source is ready and
prints the URL its events go to.

--resource takes KIND:APIVERSION, as kn does, and optionally :SELECTOR, a
label selector as kubectl -l takes it. The source watches with the
service account --service-account names (by default the one named
default): give that account get, list and watch on each kind, or the
source reports which permission it lacks.`,
		Example: `  # Every Kubernetes event of the namespace, to the Broker "default":
  fw source apiserver create k8s-events --resource Event:v1 --sink broker:default

  # Deployments labelled app=shop, whole objects, watched with the account "watcher":
  fw source apiserver create shop-deployments --resource Deployment:apps/v1:app=shop \
    --mode Resource --service-account watcher --sink ksvc:auditor

  # ConfigMaps and Secrets:
  fw source apiserver create config --resource ConfigMap:v1 --resource Secret:v1 --sink broker:default`,
		Args: Kind.ExactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return sourcecmd.Create(cmd.Context(), cmd.OutOrStdout(), p, Kind, &o, args[0])
		},
	}
	o.Add(cmd, Kind.Kind)
	return cmd
}
