package trigger

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/params"
)

type createOptions struct {
	broker string
	writeOptions
}

// NewTriggerCreateCommand returns `fw trigger create`.
func NewTriggerCreateCommand(p *params.Params) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create NAME --broker BROKER --sink SINK",
		Short: "Create a Trigger: which events of a Broker go where",
		Long: `Create a Trigger that delivers the events of a Broker that match its
filters to a sink. Each --filter KEY=VALUE names a CloudEvents attribute
(type, source, subject, or an extension) and the value it must have;
an event must match every one. Without --filter, every event goes.

The delivery flags override the Broker's: how often a failed delivery is
retried, how far apart, how long one attempt may take, and where an event
goes once every attempt failed.`,
		Example: `  # Every event of the Broker "default" to the Knative Service "hello":
  fw trigger create all-events --broker default --sink ksvc:hello

  # Only orders placed by the shop, one at a time and in order, retried
  # 3 times, then to the Knative Service "errors":
  fw trigger create orders --broker default --sink ksvc:orders \
    --filter type=com.example.order.placed --filter source=/shop --ordered \
    --retry 3 --dl-sink ksvc:errors

  # To a Kubernetes Service, and to a URL:
  fw trigger create audit --broker default --sink svc:audit-log
  fw trigger create hook --broker default --sink https://hooks.example.com/events`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreate(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.broker, brokerFlag, "", "the Broker whose events the Trigger delivers; it cannot change later (required)")
	o.add(cmd)
	return cmd
}

func runCreate(ctx context.Context, out io.Writer, p *params.Params, o *createOptions, name string) error {
	if o.broker == "" {
		return fmt.Errorf("--%s is required: the Broker whose events the Trigger delivers, e.g. --%s default", brokerFlag, brokerFlag)
	}
	if !o.changed(sinkFlag) {
		return fmt.Errorf("--%s is required: where the events go, e.g. --%s ksvc:hello; it takes %s", sinkFlag, sinkFlag, delivery.SinkHelp)
	}
	if err := o.check(); err != nil {
		return err
	}
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return err
	}
	t := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       eventingv1.TriggerSpec{Broker: o.broker},
	}
	if err := o.apply(t, ns); err != nil {
		return err
	}
	_, err = client.Triggers(ns).Create(ctx, t, metav1.CreateOptions{})
	if apierrs.IsAlreadyExists(err) {
		return fmt.Errorf("a Trigger %s already exists in namespace %s: change it with fw trigger update %s", name, ns, name)
	}
	if err != nil {
		return fmt.Errorf("creating Trigger %s: %w", name, err)
	}
	fmt.Fprintf(out, "Created Trigger %s of Broker %s in namespace %s.\n", name, o.broker, ns)
	fmt.Fprintf(out, "See whether it is ready with fw trigger describe %s -n %s\n", name, ns)
	return nil
}
