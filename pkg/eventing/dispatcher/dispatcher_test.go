package dispatcher

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"flywheel.dev/pkg/eventing/jetstream"
)

// Sync after the Trigger changed delivers to what it says now, and only
// there.
func TestSyncRestartsDeliveryWhenTheTriggerChanges(t *testing.T) {
	e := newEnv(t)
	old := e.newSubscriber()
	changed := e.newSubscriber()
	tr := newTrigger("t", old.url)
	e.apply(tr)
	e.publish(newEvent("e-1", "dev.flywheel.test"))
	old.waitFor(1)

	tr = tr.DeepCopy()
	tr.Generation++
	tr.Status.SubscriberURI = changed.url
	e.apply(tr)
	e.publish(newEvent("e-2", "dev.flywheel.test"))
	e.publish(newEvent("e-3", "dev.flywheel.test"))

	changed.waitFor(2)
	e.settle(tr)
	got := changed.ids()
	slices.Sort(got)
	if diff := cmp.Diff([]string{"e-2", "e-3"}, got); diff != "" {
		t.Errorf("the new subscriber got (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"e-1"}, old.ids()); diff != "" {
		t.Errorf("the old subscriber got (-want, +got):\n%s", diff)
	}
}

// Sync after the Trigger was deleted stops its delivery: the events
// stored afterwards wait in its consumer, which the Trigger reconciler
// deletes, and nothing reaches the subscriber.
func TestSyncStopsDeliveryWhenTheTriggerIsDeleted(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber()
	tr := newTrigger("t", sub.url)
	e.apply(tr)
	e.publish(newEvent("e-1", "dev.flywheel.test"))
	sub.waitFor(1)
	e.settle(tr)

	e.remove(tr)
	e.publish(newEvent("e-2", "dev.flywheel.test"))
	e.publish(newEvent("e-3", "dev.flywheel.test"))

	// Whoever consumes the consumer now gets both events: the
	// dispatcher took neither.
	c, err := e.consumer(tr)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(2, natsjs.FetchMaxWait(waitTimeout))
	if err != nil {
		t.Fatal(err)
	}
	var waiting []string
	for msg := range batch.Messages() {
		ev, err := jetstream.Decode(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, ev.ID())
		_ = msg.Ack()
	}
	if err := batch.Error(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"e-2", "e-3"}, waiting); diff != "" {
		t.Errorf("events left in the deleted Trigger's consumer (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"e-1"}, sub.ids()); diff != "" {
		t.Errorf("the subscriber got (-want, +got):\n%s", diff)
	}
}

// Sync stopping a subscription returns once its deliveries in flight
// ended, and hands their events back to JetStream at once: the next
// subscription gets them well before AckWait.
func TestSyncStoppingWaitsForDeliveriesInFlight(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []triggerOption
		inFlight int
	}{
		{name: "ordered", opts: []triggerOption{withOrdered()}, inFlight: 1},
		{name: "unordered", inFlight: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			gate := make(chan struct{})
			stuck := e.newSubscriber(func(s *subscriber) { s.gate = gate })
			t.Cleanup(func() { close(gate) })
			next := e.newSubscriber()
			tr := newTrigger("t", stuck.url, tc.opts...)
			e.apply(tr)
			for i := range 3 {
				e.publish(newEvent(fmt.Sprintf("e-%d", i), "dev.flywheel.test"))
			}
			eventually(t, func() error {
				if now, _ := stuck.concurrency(); now != tc.inFlight {
					return fmt.Errorf("%d requests at the subscriber, want %d", now, tc.inFlight)
				}
				return nil
			})

			e.remove(tr)
			if n := handling(); n != 0 {
				t.Errorf("%d goroutines still handle an event after Sync stopped the subscription", n)
			}

			tr = tr.DeepCopy()
			tr.Generation++
			tr.Status.SubscriberURI = next.url
			e.apply(tr)
			next.waitFor(3)
			e.settle(tr)
			got := next.ids()
			slices.Sort(got)
			if diff := cmp.Diff([]string{"e-0", "e-1", "e-2"}, got); diff != "" {
				t.Errorf("the next subscriber got (-want, +got):\n%s", diff)
			}
		})
	}
}

// handling counts the goroutines handling a stored event.
func handling() int {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "dispatcher.(*subscription).handle(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
