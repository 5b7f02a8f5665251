package trigger

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	eventingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/eventing/v1"
	"flywheel.dev/pkg/commands/params"
)

// NewTriggerUpdateCommand returns `fw trigger update`.
func NewTriggerUpdateCommand(p *params.Params) *cobra.Command {
	var o writeOptions
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a Trigger: only what the flags say",
		Long: `Change the given settings of a Trigger and leave the rest as it is.
--filter KEY=VALUE adds or changes the filter on one attribute, and
--filter KEY- removes it; the other filters stay. A Trigger's Broker
cannot change: create another Trigger for another Broker.`,
		Example: `  # Send the events to another Knative Service:
  fw trigger update orders --sink ksvc:orders-v2

  # Match on the type only, of another value, and drop the filter on source:
  fw trigger update orders --filter type=com.example.order.paid --filter source-

  # Deliver concurrently again, and retry 5 times:
  fw trigger update orders --no-ordered --retry 5`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUpdate(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	o.add(cmd)
	return cmd
}

func runUpdate(ctx context.Context, out io.Writer, p *params.Params, o *writeOptions, name string) error {
	if err := o.check(); err != nil {
		return err
	}
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return err
	}
	changed, err := update(ctx, client, ns, name, o)
	if apierrs.IsNotFound(err) {
		return fmt.Errorf("no Trigger %s in namespace %s: create it with fw trigger create %s --broker BROKER --sink SINK", name, ns, name)
	}
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(out, "Nothing to change in Trigger %s in namespace %s.\n", name, ns)
		return nil
	}
	fmt.Fprintf(out, "Updated Trigger %s in namespace %s.\n", name, ns)
	return nil
}

// update applies the flags to the Trigger as it is now, retrying when
// someone else changed it in between. It writes nothing when the flags
// change nothing, and says whether it wrote.
func update(ctx context.Context, client eventingv1client.EventingV1Interface, ns, name string, o *writeOptions) (bool, error) {
	var changed bool
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		t, err := client.Triggers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edited := t.DeepCopy()
		if err := o.apply(edited, ns); err != nil {
			return err
		}
		if changed = !unchanged(t, edited); !changed {
			return nil
		}
		if _, err := client.Triggers(ns).Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating Trigger %s: %w", name, err)
		}
		return nil
	})
	return changed, err
}
