package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/clock"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/network"
	"knative.dev/pkg/reconciler"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/system"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	brokerreconciler "flywheel.dev/pkg/client/injection/reconciler/eventing/v1/broker"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing"
	"flywheel.dev/pkg/eventing/jetstream"
)

// streamCheckPeriod is how often a ready Broker's stream is checked
// again, so that one lost with NATS's state is made again even when no
// event arrives (the ingress makes it again on the next event too).
const streamCheckPeriod = time.Minute

// orphanAge is how old a consumer without a Trigger must be before it is
// deleted: a Trigger just made may not be in this reconciler's cache yet
// while its consumer already exists.
const orphanAge = 5 * time.Minute

// triggerConsumerPrefix begins the name of every Trigger's consumer. A
// consumer named otherwise is not Flywheel's (an operator's, made with the
// nats CLI) and is left alone.
var triggerConsumerPrefix = jetstream.ConsumerName("")

// Streams makes and deletes Brokers' streams, and lists and deletes their
// consumers.
type Streams interface {
	EnsureStream(ctx context.Context, broker types.NamespacedName) error
	DeleteStream(ctx context.Context, broker types.NamespacedName) error
	Consumers(ctx context.Context, broker types.NamespacedName) ([]jetstream.ConsumerInfo, error)
	DeleteConsumer(ctx context.Context, broker types.NamespacedName, name string) error
}

// Reconciler keeps a Broker's stream and status.
type Reconciler struct {
	streams       Streams
	sliceLister   discoverylisters.EndpointSliceLister
	triggerLister listers.TriggerLister
	clock         clock.PassiveClock
	uriResolver   *resolver.URIResolver
	clusterDomain string
}

var (
	_ brokerreconciler.Interface = (*Reconciler)(nil)
	_ brokerreconciler.Finalizer = (*Reconciler)(nil)
)

// ReconcileKind implements brokerreconciler.Interface.
func (r *Reconciler) ReconcileKind(ctx context.Context, b *eventingv1.Broker) reconciler.Event {
	key := types.NamespacedName{Namespace: b.Namespace, Name: b.Name}
	b.Status.InitializeConditions()

	if r.ingressReady() {
		b.Status.MarkIngressReady()
	} else {
		b.Status.MarkIngressNotReady("NoEndpoints", "The broker ingress (Service %s/%s) has no ready endpoint yet.", system.Namespace(), eventing.IngressServiceName)
	}

	if ds := b.Spec.Delivery; ds != nil && ds.DeadLetterSink != nil {
		uri, err := r.uriResolver.URIFromDestinationV1(ctx, *ds.DeadLetterSink, b)
		if err != nil {
			b.Status.MarkDeadLetterSinkResolveFailed("Unresolved", "The dead-letter sink does not resolve: %v", err)
		} else {
			b.Status.MarkDeadLetterSinkResolved(uri)
		}
	} else {
		b.Status.MarkDeadLetterSinkNotConfigured()
	}

	if err := r.streams.EnsureStream(ctx, key); err != nil {
		b.Status.MarkStreamFailed("StreamFailed", "Making the Broker's JetStream stream: %v", err)
		return fmt.Errorf("making the stream of Broker %s: %w", key, err)
	}
	b.Status.MarkStreamReady()
	b.Status.SetAddress(eventing.BrokerURL(system.Namespace(), r.clusterDomain, key))
	if err := r.deleteOrphanConsumers(ctx, b); err != nil {
		return err
	}
	return controller.NewRequeueAfter(streamCheckPeriod)
}

// deleteOrphanConsumers deletes the consumers of the Broker's stream that
// no Trigger has: one a dispatcher made again while its Trigger was being
// deleted would otherwise keep every event of the stream for ever: the
// stream is trimmed only below what every consumer acknowledged.
func (r *Reconciler) deleteOrphanConsumers(ctx context.Context, b *eventingv1.Broker) error {
	key := types.NamespacedName{Namespace: b.Namespace, Name: b.Name}
	consumers, err := r.streams.Consumers(ctx, key)
	if err != nil {
		return fmt.Errorf("listing the consumers of Broker %s: %w", key, err)
	}
	triggers, err := r.triggerLister.Triggers(b.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	wanted := make(map[string]bool, len(triggers))
	for _, t := range triggers {
		if t.Spec.Broker == b.Name {
			wanted[jetstream.ConsumerName(t.UID)] = true
		}
	}
	now := r.clock.Now()
	for _, c := range consumers {
		if !strings.HasPrefix(c.Name, triggerConsumerPrefix) || wanted[c.Name] || now.Sub(c.Created) < orphanAge {
			continue
		}
		logging.FromContext(ctx).Infow("Deleting a consumer no Trigger has", "consumer", c.Name)
		if err := r.streams.DeleteConsumer(ctx, key, c.Name); err != nil {
			return err
		}
	}
	return nil
}

// FinalizeKind deletes the Broker's stream, and with it its events and
// its Triggers' consumers.
// Without NATS there is none to delete.
func (r *Reconciler) FinalizeKind(ctx context.Context, b *eventingv1.Broker) reconciler.Event {
	err := r.streams.DeleteStream(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Name})
	if errors.Is(err, jetstream.ErrNotConfigured) {
		return nil
	}
	return err
}

// ingressReady reports whether the ingress Service has a ready endpoint.
func (r *Reconciler) ingressReady() bool {
	slices, err := r.sliceLister.EndpointSlices(system.Namespace()).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: eventing.IngressServiceName}))
	if err != nil {
		return false
	}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				return true
			}
		}
	}
	return false
}

// clusterDomain is the cluster's DNS domain, for the ingress's address.
func clusterDomain() string { return network.GetClusterDomainName() }
