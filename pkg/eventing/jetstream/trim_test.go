package jetstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	"flywheel.dev/pkg/eventing/jetstream/jetstreamtest"
)

// Trim keeps every event some consumer has not acknowledged, including
// those after one still pending, and nothing once all acknowledged; a
// stream without consumers keeps nothing.
func TestTrimKeepsWhatIsUnacknowledged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := jetstreamtest.Run(t)
	js := connect(t, srv)
	broker := types.NamespacedName{Namespace: "ns", Name: "b"}
	if err := EnsureStream(ctx, js, broker); err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(js)
	publish := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := pub.Publish(ctx, broker, testEvent(id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := func() (first, msgs uint64) {
		t.Helper()
		s, err := js.Stream(ctx, StreamName(broker))
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.FirstSeq, info.State.Msgs
	}
	// JetStream counts acknowledgements apart from the requests that
	// read them, so the trim is tried until it gives what is wanted.
	trim := func(wantFirst, wantMsgs uint64) {
		t.Helper()
		var first, msgs uint64
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := Trim(ctx, js, broker); err != nil {
				t.Fatal(err)
			}
			if first, msgs = state(); first == wantFirst && msgs == wantMsgs {
				return
			}
		}
		t.Errorf("after Trim the stream holds %d events from %d, want %d from %d", msgs, first, wantMsgs, wantFirst)
	}

	// No consumer: events are accepted and none kept.
	publish("1", "2")
	trim(3, 0)

	fast := consumer(ctx, t, js, broker, "fast")
	slow := consumer(ctx, t, js, broker, "slow")
	publish("3", "4", "5", "6")
	// fast settles all four; slow settles 3, holds 4, settles 5 and 6.
	settle(t, fast, "ack", "ack", "ack", "ack")
	trim(3, 4)
	settle(t, slow, "ack", "hold", "ack", "term")
	trim(4, 3)

	// A consumer made now starts after what is stored, and holds nothing.
	late := consumer(ctx, t, js, broker, "late")
	trim(4, 3)
	if err := slow.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	trim(7, 0)
	publish("7")
	settle(t, fast, "ack")
	trim(7, 1)
	settle(t, late, "ack")
	trim(8, 0)
}

// handle is a test consumer, to fetch from and delete.
type handle struct {
	js   jetstream.JetStream
	cons jetstream.Consumer
	name string
}

func (h *handle) Delete(ctx context.Context) error {
	return DeleteConsumer(ctx, h.js, types.NamespacedName{Namespace: "ns", Name: "b"}, h.name)
}

func consumer(ctx context.Context, t *testing.T, js jetstream.JetStream, broker types.NamespacedName, name string) *handle {
	t.Helper()
	cfg := ConsumerConfig(&eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: broker.Namespace, Name: name, UID: types.UID(name)}})
	cons, err := EnsureConsumer(ctx, js, broker, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &handle{js: js, cons: cons, name: cfg.Durable}
}

// settle fetches one event per action and acknowledges ("ack"),
// terminates ("term") or holds it ("hold").
func settle(t *testing.T, h *handle, actions ...string) {
	t.Helper()
	batch, err := h.cons.Fetch(len(actions), jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for msg := range batch.Messages() {
		switch actions[i] {
		case "ack":
			err = msg.DoubleAck(context.Background())
		case "term":
			err = msg.Term()
		case "hold":
			// Neither settled nor handed back: pending until AckWait.
		default:
			err = fmt.Errorf("unknown action %q", actions[i])
		}
		if err != nil {
			t.Fatal(err)
		}
		i++
	}
	if i != len(actions) {
		t.Fatalf("fetched %d events, want %d", i, len(actions))
	}
}
