package route

import (
	"fmt"

	"github.com/spf13/cobra"

	"flywheel.dev/pkg/commands/params"
)

// NewRouteCommand returns `fw route` and its verbs.
func NewRouteCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "route",
		Aliases: []string{"routes"},
		Short:   "List and describe Routes",
		Long: `A Route gives a URL to a set of Revisions and splits its traffic between
them. Each Service owns a Route of its own name; change its traffic with
fw service update --traffic and --tag.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewRouteListCommand(p),
		NewRouteDescribeCommand(p),
	)
	return cmd
}

func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the name of one Route, e.g. hello (got %d arguments)", len(args))
	}
	return nil
}
