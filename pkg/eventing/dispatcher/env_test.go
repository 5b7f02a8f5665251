package dispatcher

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/eventing"
	eventingv1 "flywheel.dev/pkg/apis/eventing/v1"
	listers "flywheel.dev/pkg/client/listers/eventing/v1"
	"flywheel.dev/pkg/eventing/delivery"
	"flywheel.dev/pkg/eventing/jetstream"
	"flywheel.dev/pkg/eventing/jetstream/jetstreamtest"
)

const (
	// testTimeout bounds each test, the subscriptions it starts included.
	testTimeout = 45 * time.Second
	// waitTimeout bounds one wait for a condition. It is shorter than
	// jetstream.AckWait, so that an event only JetStream's redelivery
	// would bring fails the wait rather than passing late.
	waitTimeout = 15 * time.Second
	// pollInterval is how often a waited-for condition is checked.
	pollInterval = 10 * time.Millisecond
)

// eventually checks cond until it returns nil, failing the test with its
// last error when waitTimeout passes first.
func eventually(t *testing.T, cond func() error) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, cond)
}

// eventuallyWithin is eventually with a timeout of its own.
func eventuallyWithin(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), pollInterval, timeout, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("still not so after %v: %v", timeout, last)
	}
}

// env is one Broker's stream on a NATS server of the test's own, and a
// Dispatcher over listers that the test fills as the informers would.
type env struct {
	t        *testing.T
	ctx      context.Context
	srv      *jetstreamtest.Server
	nc       *nats.Conn
	js       natsjs.JetStream
	broker   types.NamespacedName
	triggers cache.Indexer
	brokers  cache.Indexer
	d        *Dispatcher
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	e := &env{
		t:        t,
		ctx:      ctx,
		srv:      jetstreamtest.Run(t),
		broker:   types.NamespacedName{Namespace: "ns", Name: "default"},
		triggers: newIndexer(),
		brokers:  newIndexer(),
	}
	e.nc, e.js = connect(t, e.srv)
	b := &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: e.broker.Namespace, Name: e.broker.Name, UID: "broker-uid", Generation: 1}}
	if err := e.brokers.Add(b); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.EnsureStream(ctx, e.js, e.broker); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	e.d = New(e.js, delivery.New(nil, nil), listers.NewTriggerLister(e.triggers), listers.NewBrokerLister(e.brokers), log)
	// Registered after the connection's Close, so it runs before it.
	t.Cleanup(e.d.Stop)
	return e
}

func newIndexer() cache.Indexer {
	return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

// connect makes a connection as the dispatcher's Main does, closed when
// the test ends.
func connect(t *testing.T, srv *jetstreamtest.Server) (*nats.Conn, natsjs.JetStream) {
	t.Helper()
	nc, err := jetstream.Connect(srv.URL(), jetstreamtest.User, jetstreamtest.Password, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// apply stores tr in the lister, makes its consumer as the Trigger
// reconciler does, and syncs it.
func (e *env) apply(tr *eventingv1.Trigger) {
	e.t.Helper()
	if err := e.triggers.Update(tr); err != nil {
		e.t.Fatal(err)
	}
	if _, err := jetstream.EnsureConsumer(e.ctx, e.js, e.broker, jetstream.ConsumerConfig(tr)); err != nil {
		e.t.Fatal(err)
	}
	e.sync(tr)
}

// remove deletes tr from the lister and syncs it.
func (e *env) remove(tr *eventingv1.Trigger) {
	e.t.Helper()
	if err := e.triggers.Delete(tr); err != nil {
		e.t.Fatal(err)
	}
	e.sync(tr)
}

func (e *env) sync(tr *eventingv1.Trigger) {
	e.t.Helper()
	if err := e.d.Sync(e.ctx, types.NamespacedName{Namespace: tr.Namespace, Name: tr.Name}); err != nil {
		e.t.Fatalf("Sync(%s): %v", tr.Name, err)
	}
}

// publish stores ev in the Broker as the ingress does.
func (e *env) publish(ev *cloudevents.Event) {
	e.t.Helper()
	if err := jetstream.NewPublisher(e.js).Publish(e.ctx, e.broker, ev); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) consumer(tr *eventingv1.Trigger) (natsjs.Consumer, error) {
	return e.js.Consumer(e.ctx, jetstream.StreamName(e.broker), jetstream.ConsumerName(tr.UID))
}

// settle waits until tr's consumer has handed out every event the
// Broker stored and each was acknowledged or terminated, after which
// JetStream redelivers nothing. The stream's last sequence, read after
// the consumer's state, tells an event stored but not yet counted by the
// consumer, which NumPending can miss for a moment.
func (e *env) settle(tr *eventingv1.Trigger) {
	e.t.Helper()
	eventually(e.t, func() error {
		c, err := e.consumer(tr)
		if err != nil {
			return err
		}
		info, err := c.Info(e.ctx)
		if err != nil {
			return err
		}
		s, err := e.js.Stream(e.ctx, jetstream.StreamName(e.broker))
		if err != nil {
			return err
		}
		last := s.CachedInfo().State.LastSeq
		if info.NumPending != 0 || info.NumAckPending != 0 || info.Delivered.Stream != last || info.AckFloor.Stream != last {
			return fmt.Errorf("consumer of Trigger %s: %d events to hand out, %d awaiting acknowledgement, handed out up to %d and acknowledged up to %d of %d stored",
				tr.Name, info.NumPending, info.NumAckPending, info.Delivered.Stream, info.AckFloor.Stream, last)
		}
		return nil
	})
}

// A triggerOption changes a Trigger newTrigger builds.
type triggerOption func(*eventingv1.Trigger)

// newTrigger is a ready Trigger of the Broker "default" delivering to
// subscriber, retrying fast: backoffDelay PT0.01S.
func newTrigger(name string, subscriber *apis.URL, opts ...triggerOption) *eventingv1.Trigger {
	tr := &eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name + "-uid"), Generation: 1},
		Spec: eventingv1.TriggerSpec{
			Broker: "default",
			Delivery: &eventingv1.DeliverySpec{
				BackoffDelay: ptr("PT0.01S"),
				Timeout:      ptr("PT20S"),
			},
		},
		Status: eventingv1.TriggerStatus{SubscriberURI: subscriber},
	}
	for _, opt := range opts {
		opt(tr)
	}
	return tr
}

func withType(eventType string) triggerOption {
	return func(tr *eventingv1.Trigger) {
		tr.Spec.Filter = &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{"type": eventType}}
	}
}

func withRetry(n int32) triggerOption {
	return func(tr *eventingv1.Trigger) { tr.Spec.Delivery.Retry = &n }
}

func withDeadLetterSink(u *apis.URL) triggerOption {
	return func(tr *eventingv1.Trigger) { tr.Status.DeadLetterSinkURI = u }
}

func withOrdered() triggerOption {
	return func(tr *eventingv1.Trigger) {
		tr.Annotations = map[string]string{eventing.DeliveryOrderAnnotation.String(): eventing.DeliveryOrderOrdered}
	}
}

func ptr[T any](v T) *T { return &v }

// newEvent is an event of type eventType with id as its JSON data.
func newEvent(id, eventType string) *cloudevents.Event {
	ev := cloudevents.New()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType(eventType)
	if err := ev.SetData(cloudevents.ApplicationJSON, map[string]string{"id": id}); err != nil {
		panic(err)
	}
	return &ev
}

// request is an event a subscriber was sent: its binary-mode headers
// (ce-* and content-type, keys lower case) and body.
type request struct {
	Attrs map[string]string
	Body  string
}

func (r request) id() string { return r.Attrs["ce-id"] }

// reply is how a subscriber answers one request.
type reply struct {
	status int
	header map[string]string
	body   string
}

// subscriber is an HTTP server standing for a Trigger's subscriber: it
// records the events it is sent and answers as respond says (202 when
// respond is nil).
type subscriber struct {
	t   *testing.T
	url *apis.URL
	// respond answers the attempt-th request (from 1) for the event req.
	respond func(attempt int, req request) reply
	// work is how long each request takes, so that requests sent at the
	// same time overlap at the subscriber.
	work time.Duration
	// gate, when set, holds every request until it is closed.
	gate chan struct{}

	mu          sync.Mutex
	got         []request
	attempts    map[string]int
	inFlight    int
	maxInFlight int
}

// newSubscriber starts a subscriber; opts set its fields before it
// serves. When the test ends the Dispatcher is stopped first, so that no
// delivery is cut short by the server closing.
func (e *env) newSubscriber(opts ...func(*subscriber)) *subscriber {
	e.t.Helper()
	s := &subscriber{t: e.t, attempts: map[string]int{}}
	for _, opt := range opts {
		opt(s)
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	e.t.Cleanup(func() {
		e.d.Stop()
		srv.Close()
	})
	u, err := apis.ParseURL(srv.URL + "/events")
	if err != nil {
		e.t.Fatal(err)
	}
	s.url = u
	return s
}

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := request{Attrs: map[string]string{}, Body: string(body)}
	for k, v := range r.Header {
		k = strings.ToLower(k)
		if strings.HasPrefix(k, "ce-") || k == "content-type" {
			req.Attrs[k] = strings.Join(v, ",")
		}
	}
	s.mu.Lock()
	s.got = append(s.got, req)
	s.attempts[req.id()]++
	attempt := s.attempts[req.id()]
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if s.gate != nil {
		select {
		case <-s.gate:
		case <-r.Context().Done():
			return
		}
	}
	if s.work > 0 {
		time.Sleep(s.work)
	}
	answer := reply{status: http.StatusAccepted}
	if s.respond != nil {
		answer = s.respond(attempt, req)
	}
	for k, v := range answer.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(answer.status)
	_, _ = io.WriteString(w, answer.body)
}

// requests are the requests received so far, in order.
func (s *subscriber) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// ids are the ids of the events received so far, in order, with every
// attempt.
func (s *subscriber) ids() []string {
	var ids []string
	for _, r := range s.requests() {
		ids = append(ids, r.id())
	}
	return ids
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// concurrency is how many requests are being served now, and the most
// there ever were at once.
func (s *subscriber) concurrency() (now, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight, s.maxInFlight
}

// waitFor waits until the subscriber has received n requests.
func (s *subscriber) waitFor(n int) {
	s.t.Helper()
	eventually(s.t, func() error {
		if got := s.count(); got < n {
			return fmt.Errorf("the subscriber received %d requests, want %d: %v", got, n, s.ids())
		}
		return nil
	})
}
