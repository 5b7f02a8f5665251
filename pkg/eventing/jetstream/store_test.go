package jetstream

import (
	"context"
	"errors"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/eventing/jetstream/jetstreamtest"
)

func connect(t *testing.T, srv *jetstreamtest.Server) jetstream.JetStream {
	t.Helper()
	nc, err := Connect(srv.URL(), jetstreamtest.User, jetstreamtest.Password, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func testEvent(id string) *cloudevents.Event {
	ev := cloudevents.New()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType("dev.flywheel.test")
	ev.SetExtension("color", "blue")
	if err := ev.SetData("application/json", map[string]string{"hello": "world"}); err != nil {
		panic(err)
	}
	return &ev
}

func TestPublishAndConsume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := jetstreamtest.Run(t)
	js := connect(t, srv)
	broker := types.NamespacedName{Namespace: "ns", Name: "default.v2"}
	trigger := &eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "t", UID: "1234"}}

	if err := EnsureStream(ctx, js, broker); err != nil {
		t.Fatal(err)
	}
	cons, err := EnsureConsumer(ctx, js, broker, ConsumerConfig(trigger))
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(js)
	want := testEvent("a")
	if err := pub.Publish(ctx, broker, want); err != nil {
		t.Fatal(err)
	}
	// The same source and id again is a producer's retry: stored once.
	if err := pub.Publish(ctx, broker, testEvent("a")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, broker, testEvent("b")); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for msg := range batch.Messages() {
		got, err := Decode(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		if got.ID() == "a" {
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("stored event (-want, +got):\n%s", diff)
			}
		}
		ids = append(ids, got.ID())
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"a", "b"}, ids); diff != "" {
		t.Errorf("events consumed (-want, +got):\n%s", diff)
	}
}

// A NATS that lost its state has neither stream nor consumer: publishing
// makes the stream again, and EnsureConsumer the consumer.
func TestStateMadeAgainAfterLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := jetstreamtest.Run(t)
	js := connect(t, srv)
	broker := types.NamespacedName{Namespace: "ns", Name: "b"}
	trigger := &eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "t", UID: "5678"}}
	if _, err := EnsureConsumer(ctx, js, broker, ConsumerConfig(trigger)); err != nil {
		t.Fatalf("EnsureConsumer without a stream: %v", err)
	}

	srv.Restart(t, true)
	// The client reconnects on its own; until then requests fail.
	var err error
	if pollErr := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err = js.Stream(ctx, StreamName(broker))
		return errors.Is(err, jetstream.ErrStreamNotFound), nil
	}); pollErr != nil {
		t.Fatalf("after the wipe, Stream() = %v, want ErrStreamNotFound", err)
	}
	if err := NewPublisher(js).Publish(ctx, broker, testEvent("x")); err != nil {
		t.Fatalf("Publish after the wipe: %v", err)
	}
	if _, err := js.Stream(ctx, StreamName(broker)); err != nil {
		t.Fatalf("the stream was not made again: %v", err)
	}
	if _, err := EnsureConsumer(ctx, js, broker, ConsumerConfig(trigger)); err != nil {
		t.Fatal(err)
	}
	if err := DeleteConsumer(ctx, js, broker, ConsumerName(trigger.UID)); err != nil {
		t.Fatal(err)
	}
	if err := DeleteConsumer(ctx, js, broker, ConsumerName(trigger.UID)); err != nil {
		t.Errorf("deleting a consumer already gone: %v", err)
	}
	if err := DeleteStream(ctx, js, broker); err != nil {
		t.Fatal(err)
	}
	if err := DeleteStream(ctx, js, broker); err != nil {
		t.Errorf("deleting a stream already gone: %v", err)
	}
}

func TestNames(t *testing.T) {
	b := types.NamespacedName{Namespace: "team-a", Name: "orders.v1"}
	for _, c := range []struct{ got, want string }{
		{StreamName(b), "broker_team-a_orders_v1"},
		{Subject(b), "broker.team-a.orders_v1"},
		{ConsumerName("0a-1b"), "trigger_0a-1b"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
