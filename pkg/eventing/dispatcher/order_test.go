package dispatcher

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"flywheel.dev/pkg/eventing/jetstream"
)

// An ordered Trigger delivers one event at a time in the order the
// Broker stored them, a retried event keeping its place.
func TestOrderedTriggerDeliversOneEventAtATimeInOrder(t *testing.T) {
	e := newEnv(t)
	sub := e.newSubscriber(func(s *subscriber) {
		// Long enough for two requests sent together to overlap.
		s.work = time.Millisecond
		s.respond = func(attempt int, req request) reply {
			if req.id() == "e-25" && attempt == 1 {
				return reply{status: http.StatusInternalServerError}
			}
			return reply{status: http.StatusAccepted}
		}
	})
	tr := newTrigger("ordered", sub.url, withOrdered(), withRetry(1))
	e.apply(tr)

	var want []string
	for i := range 50 {
		id := fmt.Sprintf("e-%02d", i)
		want = append(want, id)
		if id == "e-25" {
			want = append(want, id)
		}
		e.publish(newEvent(id, "dev.flywheel.test"))
	}

	sub.waitFor(len(want))
	e.settle(tr)
	if diff := cmp.Diff(want, sub.ids()); diff != "" {
		t.Errorf("requests in order (-want, +got):\n%s", diff)
	}
	if _, most := sub.concurrency(); most != 1 {
		t.Errorf("the subscriber served up to %d requests at once, want 1", most)
	}
}

// An unordered Trigger delivers events concurrently, up to
// jetstream.DefaultMaxInFlight at once.
func TestUnorderedTriggerDeliversConcurrentlyWithinBound(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	sub := e.newSubscriber(func(s *subscriber) { s.gate = gate })
	// Runs before the subscriber's server closes, which waits for the
	// requests it holds.
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	tr := newTrigger("unordered", sub.url)
	e.apply(tr)

	const total = jetstream.DefaultMaxInFlight + 44
	for i := range total {
		e.publish(newEvent(fmt.Sprintf("e-%03d", i), "dev.flywheel.test"))
	}

	// Once JetStream has handed out all it may, no further event comes
	// until one is acknowledged: the subscriber holds the most it can get.
	eventually(t, func() error {
		c, err := e.consumer(tr)
		if err != nil {
			return err
		}
		info, err := c.Info(e.ctx)
		if err != nil {
			return err
		}
		now, _ := sub.concurrency()
		if info.NumAckPending != jetstream.DefaultMaxInFlight || now != info.NumAckPending {
			return fmt.Errorf("%d events awaiting acknowledgement, %d requests at the subscriber; want %d of each",
				info.NumAckPending, now, jetstream.DefaultMaxInFlight)
		}
		return nil
	})
	close(gate)

	sub.waitFor(total)
	e.settle(tr)
	if _, most := sub.concurrency(); most != jetstream.DefaultMaxInFlight {
		t.Errorf("the subscriber served up to %d requests at once, want %d", most, jetstream.DefaultMaxInFlight)
	}
	if got := sub.count(); got != total {
		t.Errorf("the subscriber got %d requests, want %d", got, total)
	}
}
