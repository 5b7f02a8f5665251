package broker

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/commands/broker/delivery"
	"flywheel.dev/pkg/commands/flags"
	"flywheel.dev/pkg/commands/params"
)

const classFlag = "class"

type createOptions struct {
	class    string
	delivery delivery.Flags
	wait     flags.WaitFlags
}

// NewBrokerCreateCommand returns `fw broker create`.
func NewBrokerCreateCommand(p *params.Params) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a Broker and wait until it is ready",
		Long: `Create a Broker. By default the command waits until the Broker is ready
and prints its address, which is inside the cluster; from outside it,
send events with fw event send --broker NAME.

The delivery flags are the defaults of the Broker's Triggers: how often a
failed delivery is retried, how far apart, how long one attempt may take,
and where an event goes once every attempt failed (the dead-letter sink).
A Trigger can set its own.`,
		Example: `  # The Broker most examples send to:
  fw broker create default

  # Retry a failed delivery 5 times, from 0.5s apart and doubling, and send
  # what still fails to the Knative Service "errors":
  fw broker create orders --retry 5 --backoff-policy exponential --backoff-delay PT0.5S \
    --timeout PT10S --dl-sink ksvc:errors

  # Do not wait for it to become ready:
  fw broker create default --no-wait`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCreate(cmd.Context(), cmd.OutOrStdout(), p, &o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.class, classFlag, "",
		"the implementation that serves the Broker (annotation "+eventing.BrokerClassAnnotation.String()+"); Flywheel serves every class, and names its own "+eventing.BrokerClass)
	o.delivery.Add(cmd.Flags(), "a Trigger of the Broker")
	o.wait.Add(cmd.Flags(), "the Broker is ready, and print its address", true)
	o.wait.AddErrorWindow(cmd.Flags())
	return cmd
}

func runCreate(ctx context.Context, out io.Writer, p *params.Params, o *createOptions, name string) error {
	if _, err := o.wait.Wait(); err != nil {
		return err
	}
	if err := o.delivery.Check(); err != nil {
		return err
	}
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return err
	}
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if o.class != "" {
		b.Annotations = map[string]string{eventing.BrokerClassAnnotation.String(): o.class}
	}
	if b.Spec.Delivery, err = o.delivery.Apply(nil, ns); err != nil {
		return err
	}
	created, err := client.Brokers(ns).Create(ctx, b, metav1.CreateOptions{})
	if apierrs.IsAlreadyExists(err) {
		return fmt.Errorf("a Broker %s already exists in namespace %s; see fw broker describe %s -n %s", name, ns, name, ns)
	}
	if err != nil {
		return fmt.Errorf("creating Broker %s: %w", name, err)
	}
	fmt.Fprintf(out, "Created Broker %s in namespace %s.\n", name, ns)
	shouldWait, err := o.wait.Wait()
	if err != nil {
		return err
	}
	if !shouldWait {
		fmt.Fprintf(out, "Not waiting for it to become ready; see fw broker describe %s -n %s\n", name, ns)
		return nil
	}
	fmt.Fprintf(out, "Waiting for Broker %s to become ready...\n", name)
	ready, err := waitForReady(ctx, client, ns, name, created.Generation, o.wait.Bounds())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Broker %s is ready, at:\n%s\n", name, address(ready))
	return nil
}
