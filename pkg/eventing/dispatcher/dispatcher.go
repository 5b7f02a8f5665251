package dispatcher

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/filter"
	"flywheel.dev/pkg/eventing/jetstream"
)

// Dispatcher runs a subscription for every ready Trigger it is told of.
type Dispatcher struct {
	js        natsjs.JetStream
	deliverer *delivery.Deliverer
	publisher *jetstream.Publisher
	triggers  listers.TriggerLister
	brokers   listers.BrokerLister
	log       *slog.Logger
	metrics   instruments

	mu   sync.Mutex
	subs map[types.NamespacedName]*subscription
}

// New returns a Dispatcher that consumes from js, delivers with deliverer
// and reads Triggers and Brokers from the listers. Its deliveries are
// counted on no instruments until WithMeters.
func New(js natsjs.JetStream, deliverer *delivery.Deliverer, triggers listers.TriggerLister, brokers listers.BrokerLister, log *slog.Logger) *Dispatcher {
	return &Dispatcher{
		metrics:   newInstruments(nil),
		js:        js,
		deliverer: deliverer,
		publisher: jetstream.NewPublisher(js),
		triggers:  triggers,
		brokers:   brokers,
		log:       log,
		subs:      map[types.NamespacedName]*subscription{},
	}
}

// WithMeters has the Dispatcher count its deliveries per Trigger on
// instruments of mp. Call it before the first Sync.
func (d *Dispatcher) WithMeters(mp metric.MeterProvider) *Dispatcher {
	d.metrics = newInstruments(mp)
	return d
}

// Sync brings the subscription of one Trigger in line with the Trigger
// and its Broker as the listers hold them: started when the Trigger is
// ready to deliver, restarted when what it is run from changed, stopped
// when the Trigger is going or cannot deliver. ctx bounds a started
// subscription.
func (d *Dispatcher) Sync(ctx context.Context, key types.NamespacedName) error {
	want, err := d.specOf(key)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.subs[key]
	if cur != nil && want != nil && cur.spec.generation == want.generation {
		return nil
	}
	if cur != nil {
		cur.stop()
		delete(d.subs, key)
		d.log.Info("stopped delivering", "trigger", key.String())
	}
	if want == nil {
		return nil
	}
	s := &subscription{
		spec:      *want,
		js:        d.js,
		deliverer: d.deliverer,
		publisher: d.publisher,
		log:       d.log.With("trigger", key.String()),
		metrics:   d.metrics.forTrigger(*want),
		spanAttrs: spanAttributes(*want),
		wanted: func() bool {
			now, err := d.specOf(key)
			return err == nil && now != nil && now.generation == want.generation
		},
	}
	s.start(ctx)
	d.subs[key] = s
	d.log.Info("delivering", "trigger", key.String(), "subscriber", want.subscriber.String(), "ordered", want.ordered)
	return nil
}

// Stop ends every subscription. All are told at once, then waited for:
// each waits for its deliveries to end, and for its consume to drain.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.subs {
		s.cancel()
	}
	for key, s := range d.subs {
		s.stop()
		delete(d.subs, key)
	}
}

// specOf is the spec of a Trigger's subscription, or nil when it should
// not run: the Trigger is gone or going, its subscriber does not resolve,
// its Broker is missing or going, or its filter or delivery spec is invalid (which
// the webhook refuses, and the controller reports).
func (d *Dispatcher) specOf(key types.NamespacedName) (*spec, error) {
	t, err := d.triggers.Triggers(key.Namespace).Get(key.Name)
	if apierrs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if t.DeletionTimestamp != nil || t.Status.SubscriberURI == nil {
		return nil, nil
	}
	b, err := d.brokers.Brokers(t.Namespace).Get(t.Spec.Broker)
	if apierrs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if b.DeletionTimestamp != nil {
		// Its stream is being deleted: making the consumer again would
		// make the stream again too.
		return nil, nil
	}
	f, err := filter.Compile(t.Spec.Filter, t.Spec.Filters)
	if err != nil {
		d.log.Warn("not delivering: the Trigger's filter is invalid", "trigger", key.String(), "error", err)
		return nil, nil
	}
	ds := t.Spec.Delivery
	if ds == nil {
		ds = b.Spec.Delivery
	}
	params, err := delivery.ParamsFrom(ds)
	if err != nil {
		d.log.Warn("not delivering: the delivery spec is invalid", "trigger", key.String(), "error", err)
		return nil, nil
	}
	var deadLetter *url.URL
	if t.Status.DeadLetterSinkURI != nil {
		deadLetter = t.Status.DeadLetterSinkURI.URL()
	}
	return &spec{
		trigger:    key,
		broker:     types.NamespacedName{Namespace: t.Namespace, Name: t.Spec.Broker},
		consumer:   jetstream.ConsumerConfig(t),
		filter:     f,
		subscriber: t.Status.SubscriberURI.URL(),
		deadLetter: deadLetter,
		params:     params,
		ordered:    jetstream.Ordered(t),
		generation: fmt.Sprintf("%s/%d/%s/%s/%d/%v", t.UID, t.Generation, t.Status.SubscriberURI, t.Status.DeadLetterSinkURI, b.Generation, jetstream.Ordered(t)),
	}, nil
}

// TriggersOf lists the Triggers of a Broker, for a Broker's change to
// reach them.
func TriggersOf(triggers listers.TriggerLister, broker types.NamespacedName) []types.NamespacedName {
	all, err := triggers.Triggers(broker.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []types.NamespacedName
	for _, t := range all {
		if t.Spec.Broker == broker.Name {
			keys = append(keys, types.NamespacedName{Namespace: t.Namespace, Name: t.Name})
		}
	}
	return keys
}
