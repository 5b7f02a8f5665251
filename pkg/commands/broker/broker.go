package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	eventingv1client "flywheel.dev/pkg/client/clientset/versioned/typed/eventing/v1"
	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/wait"
)

// NewBrokerCommand returns `fw broker` and its verbs.
func NewBrokerCommand(p *params.Params) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "broker",
		Aliases: []string{"brokers"},
		Short:   "Create, list, describe and delete Brokers",
		Long: `A Broker takes in CloudEvents at its address and hands each one to the
Triggers whose filters match it. Flywheel stores every event in NATS
JetStream before the Broker answers 202, and retries deliveries as the
Broker's delivery settings (or a Trigger's own) say. Send a test event
with fw event send --broker NAME.`,
	}
	p.AddClusterFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		NewBrokerCreateCommand(p),
		NewBrokerListCommand(p),
		NewBrokerDescribeCommand(p),
		NewBrokerDeleteCommand(p),
	)
	return cmd
}

// exactlyOneName is the argument check of the verbs that take one Broker.
func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("give the name of one Broker, e.g. default (got %d arguments)", len(args))
	}
	return nil
}

// address returns the URL producers post to, empty before there is one.
func address(b *eventingv1.Broker) string {
	if a := b.Status.Address; a != nil && a.URL != nil {
		return a.URL.String()
	}
	return ""
}

// waitForReady waits until the Broker is Ready at generation (or a later
// one), within bounds. As with Services, a Ready False must last the
// error window before it counts as a failure: a Broker can pass through
// False while the stream it needs is made.
func waitForReady(ctx context.Context, client eventingv1client.EventingV1Interface, ns, name string, generation int64, bounds wait.Bounds) (*eventingv1.Broker, error) {
	timeout := bounds.Timeout
	b, err := wait.ForReady(ctx, client.Brokers(ns), "Broker", name, generation, bounds, func(b *eventingv1.Broker) (int64, *apis.Condition) {
		return b.Status.ObservedGeneration, b.Status.GetCondition(eventingv1.BrokerConditionReady)
	})
	switch {
	case errors.Is(err, wait.ErrStayedFalse):
		return b, fmt.Errorf("the Broker %s failed: %s", name, why(b))
	case errors.Is(err, wait.ErrTimedOut):
		if b == nil {
			return nil, fmt.Errorf("the Broker %s did not appear within %v", name, timeout)
		}
		return b, fmt.Errorf("the Broker %s did not become ready within %v; it says %s\nWait longer with --wait-timeout, or see fw broker describe %s",
			name, timeout, why(b), name)
	}
	return b, err
}

// why describes the most telling condition of a Broker that is not
// ready: a failed one other than Ready, else Ready, else the first
// Unknown one.
func why(b *eventingv1.Broker) string {
	conds := b.Status.Conditions
	for _, status := range []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionUnknown} {
		for _, c := range conds {
			if c.Type != eventingv1.BrokerConditionReady && c.Status == status {
				return describeCondition(c)
			}
		}
		for _, c := range conds {
			if c.Type == eventingv1.BrokerConditionReady && c.Status == status {
				return describeCondition(c)
			}
		}
	}
	return "no status reported yet"
}

func describeCondition(c apis.Condition) string {
	s := fmt.Sprintf("%s is %s", c.Type, c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}
