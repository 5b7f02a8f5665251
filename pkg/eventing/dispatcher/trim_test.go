package dispatcher

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/jetstream"
)

// While a Trigger's subscriber fails an event, TrimStreams keeps it and
// those after it; once it is delivered, the stream empties.
func TestTrimStreamsKeepsOnlyWhatIsUndelivered(t *testing.T) {
	e := newEnv(t)
	var failing atomic.Bool
	failing.Store(true)
	sub := e.newSubscriber(func(s *subscriber) {
		s.respond = func(_ int, req request) reply {
			if req.id() == "stuck" && failing.Load() {
				return reply{status: http.StatusServiceUnavailable}
			}
			return reply{status: http.StatusAccepted}
		}
	})
	// Retries for longer than the test: only a success settles "stuck".
	tr := newTrigger("t", sub.url, withRetry(1000))
	e.apply(tr)
	ctx, cancel := context.WithCancel(e.ctx)
	trimmed := make(chan struct{})
	go func() {
		defer close(trimmed)
		TrimStreams(ctx, e.js, listers.NewBrokerLister(e.brokers), 10*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); <-trimmed })

	stored := func() (first, msgs uint64, err error) {
		s, err := e.js.Stream(e.ctx, jetstream.StreamName(e.broker))
		if err != nil {
			return 0, 0, err
		}
		info, err := s.Info(e.ctx)
		if err != nil {
			return 0, 0, err
		}
		return info.State.FirstSeq, info.State.Msgs, nil
	}
	e.publish(newEvent("first", "dev.flywheel.test"))
	e.publish(newEvent("stuck", "dev.flywheel.test"))
	e.publish(newEvent("after", "dev.flywheel.test"))
	sub.waitFor(3)
	eventually(t, func() error {
		first, msgs, err := stored()
		if err != nil {
			return err
		}
		if first != 2 || msgs != 2 {
			return fmt.Errorf("the stream holds %d events from %d, want 2 from 2: \"stuck\" and \"after\"", msgs, first)
		}
		return nil
	})
	// Still held some trims later.
	time.Sleep(100 * time.Millisecond)
	if first, msgs, err := stored(); err != nil || first != 2 || msgs != 2 {
		t.Fatalf("the stream holds %d events from %d (%v), want \"stuck\" and \"after\" kept while undelivered", msgs, first, err)
	}

	failing.Store(false)
	e.settle(tr)
	eventually(t, func() error {
		_, msgs, err := stored()
		if err == nil && msgs != 0 {
			err = fmt.Errorf("the stream holds %d events, want none once all are delivered", msgs)
		}
		return err
	})
}
