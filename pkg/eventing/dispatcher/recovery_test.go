package dispatcher

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"k8s.io/apimachinery/pkg/util/wait"

	"flywheel.dev/pkg/eventing/jetstream"
)

// A consumer deleted behind the dispatcher's back is made again, and the
// events stored afterwards are delivered.
func TestMakesADeletedConsumerAgain(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber()
	tr := newTrigger("t", sub.url)
	e.apply(tr)
	e.publish(newEvent("before", "dev.flywheel.test"))
	sub.waitFor(1)

	if err := e.js.DeleteConsumer(e.ctx, jetstream.StreamName(e.broker), jetstream.ConsumerName(tr.UID)); err != nil {
		t.Fatal(err)
	}
	// Until the consumer is back, the Trigger has no claim on the
	// stream's events: its new consumer starts with the next one.
	eventually(t, func() error {
		_, err := e.consumer(tr)
		return err
	})
	e.publish(newEvent("after", "dev.flywheel.test"))

	sub.waitFor(2)
	e.settle(tr)
	if diff := cmp.Diff([]string{"before", "after"}, sub.ids()); diff != "" {
		t.Errorf("events delivered (-want, +got):\n%s", diff)
	}
}

// publisher stores events as an ingress does, on a connection of its own,
// and remembers those whose Publish returned nil.
type publisher struct {
	e   *env
	nc  *nats.Conn
	pub *jetstream.Publisher

	mu     sync.Mutex
	stored []string
	failed int
}

func newPublisher(e *env) *publisher {
	nc, js := connect(e.t, e.srv)
	return &publisher{e: e, nc: nc, pub: jetstream.NewPublisher(js)}
}

// publish tries once to store event id, which counts as stored only when
// Publish returned nil.
func (p *publisher) publish(id string) error {
	ctx, cancel := context.WithTimeout(p.e.ctx, 2*time.Second)
	defer cancel()
	err := p.pub.Publish(ctx, p.e.broker, newEvent(id, "dev.flywheel.test"))
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failed++
		return err
	}
	p.stored = append(p.stored, id)
	return nil
}

func (p *publisher) storedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stored)
}

// deliveredAll waits until every event p stored reached sub at least
// once, and reports the events sub got more than once.
//
// It waits past jetstream.AckWait: an event JetStream handed out just as
// the server stopped, still in the server's send queue, is recorded as
// handed out but never reached the dispatcher, and JetStream hands it
// out again only once AckWait has passed. The same goes for an event
// delivered whose acknowledgement was lost with the connection: it is
// the duplicate the log reports.
func deliveredAll(t *testing.T, p *publisher, sub *subscriber) {
	t.Helper()
	stored := p.storedIDs()
	eventuallyWithin(t, jetstream.AckWait+waitTimeout, func() error {
		seen := map[string]bool{}
		for _, id := range sub.ids() {
			seen[id] = true
		}
		var missing []string
		for _, id := range stored {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of the %d events stored were not delivered: %v", len(missing), len(stored), missing)
		}
		return nil
	})
	times := map[string]int{}
	for _, id := range sub.ids() {
		times[id]++
	}
	duplicates := 0
	for _, n := range times {
		if n > 1 {
			duplicates++
		}
	}
	p.mu.Lock()
	failed := p.failed
	p.mu.Unlock()
	t.Logf("%d events stored, %d refused; %d delivered more than once", len(stored), failed, duplicates)
}

// NATS restarting with its storage loses no event it stored: each
// reaches the subscriber at least once, those stored while deliveries
// were going on across the restart and those stored after it.
func TestDeliversEveryStoredEventAcrossANATSRestart(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber()
	tr := newTrigger("t", sub.url)
	e.apply(tr)
	p := newPublisher(e)

	// Events are stored while the server restarts; while it is down they
	// are refused, as the ingress answers 503, and the publisher waits
	// for its connection to come back.
	const total = 400
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			if err := p.publish(fmt.Sprintf("flow-%03d", i)); err != nil {
				_ = wait.PollUntilContextCancel(e.ctx, pollInterval, true, func(context.Context) (bool, error) {
					return p.nc.IsConnected(), nil
				})
			}
			if e.ctx.Err() != nil {
				return
			}
		}
	}()
	sub.waitFor(50)
	e.srv.Restart(t, false)
	select {
	case <-done:
	case <-e.ctx.Done():
		t.Fatal("the publisher did not finish")
	}
	// And after it, once the publisher's connection is back.
	for i := range 20 {
		id := fmt.Sprintf("after-%02d", i)
		eventually(t, func() error { return p.publish(id) })
	}

	deliveredAll(t, p, sub)
}

// NATS coming back without its storage has lost the Trigger's consumer:
// the dispatcher makes it again, and new events are delivered.
func TestMakesTheConsumerAgainAfterNATSLostItsState(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber()
	tr := newTrigger("t", sub.url)
	e.apply(tr)
	e.publish(newEvent("before", "dev.flywheel.test"))
	sub.waitFor(1)

	e.srv.Restart(t, true)
	eventually(t, func() error {
		_, err := e.consumer(tr)
		if err != nil {
			return fmt.Errorf("the consumer was not made again: %w", err)
		}
		return nil
	})
	p := newPublisher(e)
	eventually(t, func() error { return p.publish("after") })

	sub.waitFor(2)
	if diff := cmp.Diff([]string{"before", "after"}, sub.ids()); diff != "" {
		t.Errorf("events delivered (-want, +got):\n%s", diff)
	}
}
