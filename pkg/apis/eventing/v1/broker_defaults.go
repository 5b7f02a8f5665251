package v1

import (
	"context"

	"flywheel.dev/pkg/apis/eventing"
)

// SetDefaults gives a Broker Flywheel's class when it names none, and its
// dead-letter sink's ref the Broker's namespace.
func (b *Broker) SetDefaults(ctx context.Context) {
	if _, ok := eventing.BrokerClassAnnotation.Get(b.Annotations); !ok {
		if b.Annotations == nil {
			b.Annotations = map[string]string{}
		}
		b.Annotations[eventing.BrokerClassAnnotation.String()] = eventing.BrokerClass
	}
	b.Spec.Delivery.setDefaults(b.Namespace)
}

// setDefaults gives a dead-letter sink's ref the namespace of the object
// that holds the DeliverySpec.
func (ds *DeliverySpec) setDefaults(namespace string) {
	if ds == nil || ds.DeadLetterSink == nil || ds.DeadLetterSink.Ref == nil {
		return
	}
	if ds.DeadLetterSink.Ref.Namespace == "" {
		ds.DeadLetterSink.Ref.Namespace = namespace
	}
}
