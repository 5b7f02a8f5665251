package v1

import (
	"context"

	"flywheel.dev/pkg/apis/eventing"
)

// SetDefaults labels a Trigger with its Broker's name and gives the refs
// of its subscriber and dead-letter sink the Trigger's namespace.
func (t *Trigger) SetDefaults(ctx context.Context) {
	if t.Spec.Broker != "" {
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		t.Labels[eventing.BrokerLabel.String()] = t.Spec.Broker
	}
	if ref := t.Spec.Subscriber.Ref; ref != nil && ref.Namespace == "" {
		ref.Namespace = t.Namespace
	}
	t.Spec.Delivery.setDefaults(t.Namespace)
}
