package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/types"
)

// Connect connects to NATS as name (the component, shown in NATS's
// connection list) with a user and password, and keeps reconnecting for as
// long as the process runs: a NATS restart is an outage to ride out, not
// an exit.
func Connect(url, user, password, name string) (*nats.Conn, error) {
	return nats.Connect(url,
		nats.Name(name),
		nats.UserInfo(user, password),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 0),
		// Publishes made while disconnected fail at once (the ingress
		// answers 503) instead of waiting in a buffer that a crash
		// would lose.
		nats.ReconnectBufSize(-1),
	)
}

// EnsureStream makes a Broker's stream, or brings it to StreamConfig.
func EnsureStream(ctx context.Context, js jetstream.JetStream, broker types.NamespacedName) error {
	if _, err := js.CreateOrUpdateStream(ctx, StreamConfig(broker)); err != nil {
		return fmt.Errorf("making stream %s: %w", StreamName(broker), err)
	}
	return nil
}

// DeleteStream deletes a Broker's stream, and with it its consumers; a
// stream already gone is no error.
func DeleteStream(ctx context.Context, js jetstream.JetStream, broker types.NamespacedName) error {
	err := js.DeleteStream(ctx, StreamName(broker))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("deleting stream %s: %w", StreamName(broker), err)
	}
	return nil
}

// EnsureConsumer makes a Trigger's consumer on its Broker's stream, or
// brings it to cfg, making the stream first when it is missing.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, broker types.NamespacedName, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, StreamName(broker), cfg)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if err := EnsureStream(ctx, js, broker); err != nil {
			return nil, err
		}
		c, err = js.CreateOrUpdateConsumer(ctx, StreamName(broker), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("making consumer %s on stream %s: %w", cfg.Durable, StreamName(broker), err)
	}
	return c, nil
}

// DeleteConsumer deletes a Trigger's consumer; one already gone, or whose
// stream is gone, is no error.
func DeleteConsumer(ctx context.Context, js jetstream.JetStream, broker types.NamespacedName, name string) error {
	err := js.DeleteConsumer(ctx, StreamName(broker), name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("deleting consumer %s of stream %s: %w", name, StreamName(broker), err)
	}
	return nil
}

// Publisher stores events in their Broker's stream.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish stores ev in broker's stream and returns once JetStream has it.
// A stream found missing (a NATS that lost its state) is made again from
// the Broker's name, and the event stored in it.
func (p *Publisher) Publish(ctx context.Context, broker types.NamespacedName, ev *cloudevents.Event) error {
	msg, err := Encode(Subject(broker), ev)
	if err != nil {
		return err
	}
	_, err = p.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(StreamName(broker)))
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
		if err := EnsureStream(ctx, p.js, broker); err != nil {
			return err
		}
		_, err = p.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(StreamName(broker)))
	}
	if err != nil {
		return fmt.Errorf("storing event %s in stream %s: %w", ev.ID(), StreamName(broker), err)
	}
	return nil
}

// Encode makes the message that stores ev: the event in the CloudEvents
// JSON format, with JetStream's message id set from its source and id so
// that a producer's retry within DuplicateWindow is stored once.
func Encode(subject string, ev *cloudevents.Event) (*nats.Msg, error) {
	data, err := ev.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding event %s: %w", ev.ID(), err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, ev.Source()+" "+ev.ID())
	return msg, nil
}

// Decode is Encode's inverse.
func Decode(data []byte) (*cloudevents.Event, error) {
	ev := cloudevents.New()
	if err := ev.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("decoding a stored event: %w", err)
	}
	return &ev, nil
}
