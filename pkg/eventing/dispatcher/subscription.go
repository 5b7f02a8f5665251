package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"k8s.io/apimachinery/pkg/types"

	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/filter"
	"flywheel.dev/pkg/eventing/jetstream"
)

// TTLExtension counts the hops an event has left through a Broker: a
// reply goes back with one less, and one at zero is not stored, so that a
// Trigger whose subscriber answers every event with one it matches again
// cannot loop for ever. Subscribers never see it.
const TTLExtension = "knativebrokerttl"

// DefaultTTL is the hops an event posted by a producer has.
const DefaultTTL = 255

// restartBackoff spaces the attempts to consume again after NATS failed.
const restartBackoff = 500 * time.Millisecond

// spec is everything a subscription is run from: when it changes, the
// subscription restarts.
type spec struct {
	trigger    types.NamespacedName
	broker     types.NamespacedName
	consumer   natsjs.ConsumerConfig
	filter     filter.Filter
	subscriber *url.URL
	deadLetter *url.URL
	params     delivery.Params
	ordered    bool
	// generation tells specs apart: a filter cannot be compared.
	generation string
}

// subscription consumes one Trigger's consumer until stopped.
type subscription struct {
	spec      spec
	js        natsjs.JetStream
	deliverer *delivery.Deliverer
	publisher *jetstream.Publisher
	log       *slog.Logger
	metrics   *triggerMetrics
	// spanAttrs name the Trigger on the spans of its attempts.
	spanAttrs []attribute.KeyValue
	// wanted reports whether the Trigger still exists as this spec says:
	// a consumer found missing is made again only then, never for a
	// Trigger being deleted.
	wanted func() bool

	cancel context.CancelFunc
	done   chan struct{}
}

func (s *subscription) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
}

// stop ends the subscription and waits for its deliveries in flight,
// which end at once and are left for JetStream to redeliver.
func (s *subscription) stop() {
	s.cancel()
	<-s.done
}

// run consumes until ctx ends, starting over whenever the consumer is
// lost: deleted, or gone with NATS's state. Each start makes the consumer
// again if it is missing. It returns once no message handler runs and no
// delivery is in flight.
func (s *subscription) run(ctx context.Context) {
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	maxInFlight := s.spec.consumer.MaxAckPending
	slots := make(chan struct{}, maxInFlight)
	handle := func(msg natsjs.Msg) {
		if s.spec.ordered {
			s.handle(ctx, msg)
			return
		}
		// A full set of slots holds the consume loop back, which
		// holds back pulling: the bound is per process too.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			// Stopping: handed back now, not after AckWait.
			_ = msg.Nak()
			return
		}
		inFlight.Add(1)
		go func() {
			defer func() { <-slots; inFlight.Done() }()
			s.handle(ctx, msg)
		}()
	}
	for ctx.Err() == nil {
		lost := make(chan error, 1)
		cc, err := s.consume(ctx, handle, lost)
		if err != nil {
			s.log.Warn("cannot consume; trying again", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(restartBackoff):
			}
			continue
		}
		// Stop and Drain only ask the consume to end: a message already
		// received is handled after they return. Closed, taken while the
		// consume runs, is closed once the handler returned for the last
		// time; waiting for it keeps a handler from delivering (or
		// calling inFlight.Add) after run returned.
		closed := cc.Closed()
		select {
		case <-ctx.Done():
			if s.js.Conn().IsConnected() {
				// The events JetStream sent before it knew that this
				// consume ended still come to the handler, which hands
				// them back at once (ctx is done), rather than being
				// lost in an inbox no one reads until AckWait passes.
				cc.Drain()
			} else {
				cc.Stop()
			}
		case err := <-lost:
			s.log.Warn("the consumer was lost; consuming again", "error", err)
			cc.Stop()
			<-closed
			// Made again at once, while NATS is still deleting the old
			// consumer of that name, the consumer was seen to be refused
			// ("error creating store for consumer") or to come up
			// ignoring acknowledgements (1 run in 20 of
			// TestMakesADeletedConsumerAgain): NATS gets a moment to
			// finish first.
			select {
			case <-ctx.Done():
			case <-time.After(restartBackoff):
			}
			continue
		}
		<-closed
	}
}

// lostConsumer tells the errors of a consume that mean its consumer is
// gone, or no longer reached: the consume has to start over, making the
// consumer again if it is missing. A pull that no one answers (no
// responders) is what a consumer missing after NATS lost its state, or
// not yet loaded after a restart, looks like; waiting for the missed
// heartbeats instead takes twice the heartbeat interval (30 s).
func lostConsumer(err error) bool {
	return errors.Is(err, natsjs.ErrConsumerDeleted) || errors.Is(err, natsjs.ErrConsumerNotFound) ||
		errors.Is(err, natsjs.ErrNoHeartbeat) || errors.Is(err, natsjs.ErrStreamNotFound) ||
		errors.Is(err, nats.ErrNoResponders)
}

// consume starts consuming the Trigger's consumer, making it first when
// it is missing and the Trigger still wants it. Errors that mean the
// consumer is gone are sent to lost.
func (s *subscription) consume(ctx context.Context, handle natsjs.MessageHandler, lost chan<- error) (natsjs.ConsumeContext, error) {
	stream := jetstream.StreamName(s.spec.broker)
	cons, err := s.js.Consumer(ctx, stream, s.spec.consumer.Durable)
	if errors.Is(err, natsjs.ErrConsumerNotFound) || errors.Is(err, natsjs.ErrStreamNotFound) {
		if !s.wanted() {
			return nil, fmt.Errorf("consumer %s is missing and its Trigger is going", s.spec.consumer.Durable)
		}
		s.log.Info("making the missing consumer again", "consumer", s.spec.consumer.Durable)
		cons, err = jetstream.EnsureConsumer(ctx, s.js, s.spec.broker, s.spec.consumer)
	}
	if err != nil {
		return nil, err
	}
	batch := min(s.spec.consumer.MaxAckPending, 256)
	return cons.Consume(handle,
		natsjs.PullMaxMessages(batch),
		natsjs.ConsumeErrHandler(func(_ natsjs.ConsumeContext, err error) {
			if lostConsumer(err) {
				select {
				case lost <- err:
				default:
				}
			}
		}))
}

// handle settles one stored event: filtered out, it is acknowledged at
// once; else it is delivered, its reply stored, and it is acknowledged,
// terminated or left for redelivery as the outcome says.
func (s *subscription) handle(ctx context.Context, msg natsjs.Msg) {
	ev, err := jetstream.Decode(msg.Data())
	if err != nil {
		// Nothing in the stream but what the ingress stored: a message
		// that does not decode never will.
		s.log.Error("dropping a stored message that is not an event", "error", err)
		_ = msg.Term()
		return
	}
	// The hop count is the Broker's, not the event's: no filter sees it.
	ttl := takeTTL(ev)
	if !s.spec.filter.Match(ev) {
		_ = msg.Ack()
		return
	}

	stopRenewing := renewClaim(msg)
	start := time.Now()
	out := s.deliverer.Deliver(ctx, ev, s.spec.subscriber, s.spec.deadLetter, s.spec.params, delivery.Hooks{
		BeforeRetry:    func(delivery.Retry) { _ = msg.InProgress() },
		SpanAttributes: s.spanAttrs,
	})
	stopRenewing()
	s.metrics.record(start, out)

	switch out.Result {
	case delivery.Delivered:
		if out.ReplyErr != nil {
			s.log.Warn("the subscriber's reply is not an event", "id", ev.ID(), "error", out.ReplyErr)
		}
		if out.Reply != nil {
			if err := s.storeReply(ctx, out.Reply, ttl); err != nil {
				// The event is delivered again, and replied to again:
				// a duplicate, never a lost reply.
				s.log.Warn("cannot store the reply; the event will be redelivered", "id", ev.ID(), "error", err)
				_ = msg.NakWithDelay(restartBackoff)
				return
			}
		}
		_ = msg.Ack()
	case delivery.DeadLettered:
		s.log.Info("event dead-lettered", "id", ev.ID(), "status", out.StatusCode, "attempts", out.Attempts, "error", out.Err)
		_ = msg.Ack()
	case delivery.Dropped:
		s.log.Warn("event dropped: it failed every attempt and there is no dead-letter sink", "id", ev.ID(), "status", out.StatusCode, "attempts", out.Attempts, "error", out.Err)
		_ = msg.Term()
	default:
		if ctx.Err() != nil {
			// Stopping: another dispatcher, or this one restarted,
			// takes it now.
			_ = msg.Nak()
			return
		}
		s.log.Warn("event not delivered, not even to the dead-letter sink; it will be redelivered", "id", ev.ID(), "error", out.Err, "deadLetterError", out.DeadLetterErr)
		_ = msg.NakWithDelay(max(s.spec.params.Backoff(1), restartBackoff))
	}
}

// storeReply stores a subscriber's reply in the Broker, with one hop less
// to live than the event it answers.
func (s *subscription) storeReply(ctx context.Context, reply *cloudevents.Event, ttl int) error {
	if ttl <= 1 {
		s.log.Warn("dropping a reply: the event it answers has no hops left", "id", reply.ID(), TTLExtension, ttl)
		return nil
	}
	reply.SetExtension(TTLExtension, ttl-1)
	return s.publisher.Publish(ctx, s.spec.broker, reply)
}

// takeTTL removes the TTL extension from ev, so that the subscriber does
// not see it, and returns it; DefaultTTL when there is none.
func takeTTL(ev *cloudevents.Event) int {
	v, ok := ev.Extensions()[TTLExtension]
	if !ok {
		return DefaultTTL
	}
	ev.SetExtension(TTLExtension, nil)
	var ttl int
	switch t := v.(type) {
	case int32:
		ttl = int(t)
	case string:
		if _, err := fmt.Sscan(t, &ttl); err != nil {
			return DefaultTTL
		}
	default:
		if _, err := fmt.Sscan(fmt.Sprint(t), &ttl); err != nil {
			return DefaultTTL
		}
	}
	return ttl
}

// renewClaim tells JetStream every InProgressInterval that msg is still
// being worked on, until stop is called: a slow subscriber within its
// timeout must not get the event a second time from another dispatcher.
// Once stop returns no renewal is sent: one that came after the message
// was settled would, for a Nak with a delay, reset the delay to AckWait.
func renewClaim(msg natsjs.Msg) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var timer *time.Timer
	mu.Lock()
	defer mu.Unlock()
	timer = time.AfterFunc(jetstream.InProgressInterval, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = msg.InProgress()
		timer.Reset(jetstream.InProgressInterval)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}
