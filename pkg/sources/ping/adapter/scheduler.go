package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// DefaultMaxLateness is how late a tick's event may still leave: a tick
// missed during a failover, or while the process could not run, is sent
// late if it is at most this old, and skipped otherwise.
const DefaultMaxLateness = 5 * time.Minute

// MinMaxLateness is the least MaxLateness: a timer fires a little after
// the time it was set for, and a tick must not be skipped for that.
const MinMaxLateness = time.Second

// recheckPeriod bounds each wait of the scheduling loop. Timers run on the
// monotonic clock, which stops while a machine is suspended and does not
// follow a corrected wall clock; the ticks are wall-clock times, so the
// loop looks at the wall clock again at least this often.
const recheckPeriod = 30 * time.Second

// Sender posts an event to a sink, applying the overrides; pkg/sources'
// Sender is the one the adapter runs with.
type Sender interface {
	Send(ctx context.Context, sink *url.URL, ev event.Event, overrides *duckv1.CloudEventOverrides) error
}

// Scheduler keeps a schedule for every PingSource that can send, and while
// its replica leads, sends each source's event at each tick. The ticks of
// one moment are sent concurrently, each in its own goroutine, so a slow
// sink delays nothing but its own source's event.
//
// It is safe for concurrent use: the informer's handlers call Upsert and
// Remove, the leader election calls Lead, Renew and Follow, and Run's loop
// fires the ticks.
type Scheduler struct {
	clock       clock.Clock
	sender      Sender
	maxLateness time.Duration
	log         *slog.Logger

	// sendCtx is the parent of every send's context; cancelSends ends the
	// sends still running when the process must exit.
	sendCtx     context.Context
	cancelSends context.CancelFunc
	sends       sync.WaitGroup
	inFlight    atomic.Int64

	// wake tells Run's loop that the schedules changed.
	wake chan struct{}

	mu      sync.Mutex
	sources map[types.NamespacedName]*entry
	// leading, termStart and leaseUntil gate every send: this replica
	// sends tick t at time now only while it leads, now is before
	// leaseUntil, and t is not before termStart (see mayStart).
	leading    bool
	termStart  time.Time
	leaseUntil time.Time
}

// entry is one PingSource's schedule and event. An update replaces the
// entry, so a send that started keeps the values it started with.
type entry struct {
	uid      types.UID
	schedule cron.Schedule
	// when is the schedule as the user wrote it; while it stays the same,
	// an update keeps next.
	when string
	// earliest is the first tick the source may send: its creation,
	// rounded up to the next second (the API server keeps seconds only).
	earliest  time.Time
	sink      *url.URL
	overrides *duckv1.CloudEventOverrides
	event     event.Event

	// next is the first tick Run's loop has not looked at yet; zero when
	// the schedule has no more ticks (30 February).
	next time.Time
	// lastSent is the latest tick this replica sent, so that no tick goes
	// out twice from it, whichever of the loop and a catch-up sees it.
	lastSent time.Time

	// ctx ends when the source is removed, ending its sends that are
	// still retrying: a deleted source sends nothing more.
	ctx    context.Context
	cancel context.CancelFunc
}

// send is one tick of one source, to be sent.
type send struct {
	key       types.NamespacedName
	tick      time.Time
	ctx       context.Context
	sink      *url.URL
	overrides *duckv1.CloudEventOverrides
	event     event.Event
}

// NewScheduler returns a Scheduler that reads time from clk, sends with
// sender, and sends a tick at most maxLateness after its time. It sends
// nothing until it is told to Lead.
func NewScheduler(clk clock.Clock, sender Sender, maxLateness time.Duration, log *slog.Logger) *Scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		clock:       clk,
		sender:      sender,
		maxLateness: max(maxLateness, MinMaxLateness),
		log:         log,
		sendCtx:     ctx,
		cancelSends: cancel,
		wake:        make(chan struct{}, 1),
		sources:     map[types.NamespacedName]*entry{},
	}
}

// Upsert schedules src as it is now: from its next tick when it is new or
// its schedule changed, keeping the tick it waits for when only its data,
// sink or overrides changed. A source that cannot send (its sink has not
// resolved, it is being deleted) is removed. It returns an error, and
// removes the source, when the source's spec cannot be scheduled, which
// the webhook prevents for any source it admitted.
func (s *Scheduler) Upsert(src *sourcesv1.PingSource) error {
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	if src.DeletionTimestamp != nil || src.Status.SinkURI == nil {
		s.Remove(key)
		return nil
	}
	schedule, ferr := src.Spec.CronSchedule()
	if ferr != nil {
		s.Remove(key)
		return fmt.Errorf("PingSource %s: %w", key, ferr.ViaField("spec"))
	}
	ev, err := eventOf(src)
	if err != nil {
		s.Remove(key)
		return fmt.Errorf("PingSource %s: %w", key, err)
	}
	e := &entry{
		uid:       src.UID,
		schedule:  schedule,
		when:      src.Spec.Schedule + "\x00" + src.Spec.Timezone,
		earliest:  src.CreationTimestamp.Add(time.Second),
		sink:      src.Status.SinkURI.URL(),
		overrides: src.Spec.CloudEventOverrides,
		event:     ev,
	}

	s.mu.Lock()
	now := s.clock.Now()
	old, ok := s.sources[key]
	if ok && old.uid != e.uid {
		// Deleted and made again while the informer was not looking: the
		// old source's sends end, and the new one starts afresh.
		old.cancel()
		ok = false
	}
	if ok {
		e.ctx, e.cancel, e.lastSent = old.ctx, old.cancel, old.lastSent
		e.next = old.next
		if old.when != e.when {
			e.next = schedule.Next(now)
		}
	} else {
		e.ctx, e.cancel = context.WithCancel(s.sendCtx)
		e.next = schedule.Next(now)
	}
	s.sources[key] = e
	s.mu.Unlock()
	s.wakeUp()
	return nil
}

// Remove stops scheduling the source: no tick of it starts after Remove
// returns, and its sends still retrying end.
func (s *Scheduler) Remove(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.sources[key]; ok {
		e.cancel()
		delete(s.sources, key)
	}
}

// Lead starts this replica's term as leader: it may send ticks from since
// on, while the clock is before until. since is when the previous leader
// stopped sending (it sent no tick at or after it), so the latest tick of
// each source at or after since, and at most the maximum lateness old, is
// sent now, once: a tick due while no replica led goes out late rather
// than never.
func (s *Scheduler) Lead(since, until time.Time) {
	s.mu.Lock()
	now := s.clock.Now()
	s.leading, s.termStart, s.leaseUntil = true, since, until
	var due []send
	for key, e := range s.sources {
		from := latest(since, e.earliest, now.Add(-s.maxLateness))
		if t, ok := lastTickIn(e.schedule, from, now); ok && s.mayStart(now, t, e) {
			due = append(due, s.take(key, e, t))
		}
	}
	s.mu.Unlock()
	if len(due) > 0 {
		s.log.Info("sending ticks missed while no replica led", "ticks", len(due), "since", since)
	}
	s.start(due)
}

// Renew extends the term: the lease was renewed, and this replica may send
// until until.
func (s *Scheduler) Renew(until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaseUntil = until
}

// Follow ends the term: no tick starts after Follow returns. It returns
// the time from which this replica sends nothing, which a release of the
// lease records for the next leader.
func (s *Scheduler) Follow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leading = false
	return s.clock.Now()
}

// mayStart reports whether tick t of e may be sent at now. Callers hold
// s.mu.
func (s *Scheduler) mayStart(now, t time.Time, e *entry) bool {
	return s.leading && now.Before(s.leaseUntil) && !t.Before(s.termStart) && t.After(e.lastSent)
}

// Run fires the ticks until ctx ends. Sends it started may still run when
// it returns; Drain waits for them.
func (s *Scheduler) Run(ctx context.Context) {
	for {
		due, wait := s.fire()
		s.start(due)
		timer := s.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		case <-s.wake:
			timer.Stop()
		}
	}
}

// fire takes every source whose tick came, returns the sends of those this
// replica may send, and how long to wait before looking again.
//
// Only the latest tick that came is sent: when the loop ran late (the
// process was paused, the machine suspended), the ticks before it are
// skipped rather than sent in a burst, and so is one older than the
// maximum lateness.
func (s *Scheduler) fire() ([]send, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var due []send
	wait := recheckPeriod
	for key, e := range s.sources {
		if !e.next.IsZero() && !e.next.After(now) {
			t, ok := lastTickIn(e.schedule, latest(e.next, now.Add(-s.maxLateness)), now)
			switch {
			case ok && s.mayStart(now, t, e):
				due = append(due, s.take(key, e, t))
			case !ok && s.leading:
				s.log.Warn("skipping ticks older than the maximum lateness", "pingsource", key.String(), "from", e.next, "maxLateness", s.maxLateness)
			}
			e.next = e.schedule.Next(now)
		}
		if !e.next.IsZero() {
			wait = min(wait, e.next.Sub(now))
		}
	}
	return due, wait
}

// take marks tick t of e sent and returns it, to be started. It counts
// the send in flight at once, under s.mu, so that whoever sees the tick
// taken sees the send too. Callers hold s.mu.
func (s *Scheduler) take(key types.NamespacedName, e *entry, t time.Time) send {
	e.lastSent = t
	s.sends.Add(1)
	s.inFlight.Add(1)
	return send{key: key, tick: t, ctx: e.ctx, sink: e.sink, overrides: e.overrides, event: e.event}
}

// start sends each of sends, taken, in a goroutine of its own.
func (s *Scheduler) start(sends []send) {
	for _, d := range sends {
		go func() {
			defer s.sends.Done()
			defer s.inFlight.Add(-1)
			s.deliver(d)
		}()
	}
}

// deliver sends one tick's event and logs what came of it.
func (s *Scheduler) deliver(d send) {
	ev := tickEvent(d.event, d.tick, uuid.NewString())
	late := s.clock.Since(d.tick)
	if err := s.sender.Send(d.ctx, d.sink, ev, d.overrides); err != nil {
		s.log.Warn("sending a tick", "pingsource", d.key.String(), "tick", d.tick, "id", ev.ID(), "sink", d.sink.Redacted(), "error", err)
		return
	}
	s.log.Debug("sent a tick", "pingsource", d.key.String(), "tick", d.tick, "id", ev.ID(), "late", late)
}

// Drain waits for the sends in flight to end, until ctx ends; then it
// ends those still running and waits for them to return.
func (s *Scheduler) Drain(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.sends.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("ending sends still in flight", "sends", s.inFlight.Load())
		s.cancelSends()
		<-done
	}
}

// wakeUp tells Run's loop to look at the schedules again.
func (s *Scheduler) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// lastTickIn is the latest tick of schedule at or after from and at or
// before to, if there is one.
func lastTickIn(schedule cron.Schedule, from, to time.Time) (time.Time, bool) {
	// Next gives the first tick strictly after its argument, and ticks
	// fall on whole seconds.
	t := schedule.Next(from.Add(-time.Nanosecond))
	if t.IsZero() || t.After(to) {
		return time.Time{}, false
	}
	for n := schedule.Next(t); !n.IsZero() && !n.After(to); n = schedule.Next(t) {
		t = n
	}
	return t, true
}

// latest is the latest of ts.
func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}
