package adapter

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

const testNamespace = "shop"

// created is when the test sources were made, a while before every test
// starts.
var created = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// SourceOption changes a test PingSource.
type SourceOption func(*sourcesv1.PingSource)

// newSource is a PingSource in testNamespace that ticks every minute,
// whose sink resolved to http://<name>.sink.example.com, then opts.
func newSource(name string, opts ...SourceOption) *sourcesv1.PingSource {
	src := &sourcesv1.PingSource{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testNamespace, Name: name, UID: types.UID(name + "-uid"),
			CreationTimestamp: metav1.NewTime(created),
		},
		Spec: sourcesv1.PingSourceSpec{Schedule: sourcesv1.DefaultSchedule},
	}
	src.Status.SinkURI = &apis.URL{Scheme: "http", Host: name + ".sink.example.com"}
	for _, opt := range opts {
		opt(src)
	}
	return src
}

// WithSchedule sets the schedule and time zone.
func WithSchedule(schedule, timezone string) SourceOption {
	return func(src *sourcesv1.PingSource) {
		src.Spec.Schedule, src.Spec.Timezone = schedule, timezone
	}
}

// WithData sets the data and its content type.
func WithData(contentType, data string) SourceOption {
	return func(src *sourcesv1.PingSource) {
		src.Spec.ContentType, src.Spec.Data = contentType, data
	}
}

// WithDataBase64 sets the data as base64 and its content type.
func WithDataBase64(contentType, data string) SourceOption {
	return func(src *sourcesv1.PingSource) {
		src.Spec.ContentType, src.Spec.DataBase64 = contentType, data
	}
}

// WithExtensions sets the CloudEvents overrides.
func WithExtensions(extensions map[string]string) SourceOption {
	return func(src *sourcesv1.PingSource) {
		src.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: extensions}
	}
}

// WithCreated sets the creation time.
func WithCreated(t time.Time) SourceOption {
	return func(src *sourcesv1.PingSource) { src.CreationTimestamp = metav1.NewTime(t) }
}

// WithoutSink is a source whose sink has not resolved.
func WithoutSink(src *sourcesv1.PingSource) { src.Status.SinkURI = nil }

// sent is one event a sender was given: which source's, which tick, and
// when by the test's clock.
type sent struct {
	Replica string
	Source  string
	Tick    time.Time
	At      time.Time
}

// recordingSender records every event it is asked to send and answers
// at once, but for the sinks it is told to hold: a send to one of those
// waits until its context ends.
type recordingSender struct {
	clock *clocktesting.FakeClock
	// replica names the sender in the sends it records, for tests of
	// several replicas.
	replica string

	mu      sync.Mutex
	sent    []sent
	events  []event.Event
	hold    map[string]bool // by sink host
	waiting int             // held sends waiting for their context to end
	ended   []string        // sources of held sends whose context ended
}

func (r *recordingSender) Send(ctx context.Context, sink *url.URL, ev event.Event, _ *duckv1.CloudEventOverrides) error {
	r.mu.Lock()
	r.sent = append(r.sent, sent{Replica: r.replica, Source: ev.Source(), Tick: ev.Time(), At: r.clock.Now()})
	r.events = append(r.events, ev)
	held := r.hold[sink.Host]
	if held {
		r.waiting++
	}
	r.mu.Unlock()
	if !held {
		return nil
	}
	<-ctx.Done()
	r.mu.Lock()
	r.waiting--
	r.ended = append(r.ended, ev.Source())
	r.mu.Unlock()
	return ctx.Err()
}

// Sent returns what was sent so far, by tick then source.
func (r *recordingSender) Sent() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]sent(nil), r.sent...)
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Tick.Equal(out[j].Tick) {
			return out[i].Tick.Before(out[j].Tick)
		}
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Replica < out[j].Replica
	})
	return out
}

// Ended returns the sources of held sends whose context ended.
func (r *recordingSender) Ended() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ended...)
}

// replica is a Scheduler on a fake clock, its loop running, sending to a
// recordingSender.
type replica struct {
	t         *testing.T
	clock     *clocktesting.FakeClock
	scheduler *Scheduler
	sender    *recordingSender
}

// newReplica starts a Scheduler named name on clk with maxLateness; the
// test's end stops it.
func newReplica(t *testing.T, clk *clocktesting.FakeClock, name string, maxLateness time.Duration) *replica {
	t.Helper()
	sender := &recordingSender{clock: clk, replica: name, hold: map[string]bool{}}
	s := NewScheduler(clk, sender, maxLateness, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		s.cancelSends()
		s.sends.Wait()
	})
	return &replica{t: t, clock: clk, scheduler: s, sender: sender}
}

// upsert schedules src, failing the test on an error.
func (r *replica) upsert(src *sourcesv1.PingSource) {
	r.t.Helper()
	if err := r.scheduler.Upsert(src); err != nil {
		r.t.Fatalf("Upsert(%s): %v", src.Name, err)
	}
}

// lead makes the replica leader from now on, for good: a lease it never
// fails to renew.
func (r *replica) lead() {
	r.scheduler.Lead(r.clock.Now(), r.clock.Now().Add(24*365*time.Hour))
}

// settle waits until the replica's loop has looked at the clock's time:
// no source's tick is due any more, and every send it started returned or
// waits in a held sink.
func (r *replica) settle() {
	r.t.Helper()
	waitFor(r.t, "the scheduling loop to catch up with the clock", func() bool {
		// A Step between the loop's reading of the clock and its setting
		// of a timer leaves the timer late; waking the loop looks again.
		r.scheduler.wakeUp()
		s := r.scheduler
		s.mu.Lock()
		now := s.clock.Now()
		for _, e := range s.sources {
			if !e.next.IsZero() && !e.next.After(now) {
				s.mu.Unlock()
				return false
			}
		}
		s.mu.Unlock()
		r.sender.mu.Lock()
		waiting := r.sender.waiting
		r.sender.mu.Unlock()
		return s.inFlight.Load() == int64(waiting)
	})
}

// nextTick is the earliest tick any of the replica's sources waits for.
func (r *replica) nextTick() time.Time {
	r.t.Helper()
	s := r.scheduler
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, e := range s.sources {
		if !e.next.IsZero() && (next.IsZero() || e.next.Before(next)) {
			next = e.next
		}
	}
	if next.IsZero() {
		r.t.Fatal("no source waits for a tick")
	}
	return next
}

// stepTo moves the clock to t and waits for every replica to act on it.
func stepTo(t time.Time, clk *clocktesting.FakeClock, replicas ...*replica) {
	clk.Step(t.Sub(clk.Now()))
	for _, r := range replicas {
		r.settle()
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// at is a time on 22 November 2026, UTC.
func at(hour, minute, second int) time.Time {
	return time.Date(2026, 11, 22, hour, minute, second, 0, time.UTC)
}

// sourceAttr is the source attribute of test source name's events.
func sourceAttr(name string) string {
	return "/apis/v1/namespaces/" + testNamespace + "/pingsources/" + name
}
