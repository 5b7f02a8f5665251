package limiter

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
)

// ErrQueueFull is returned by Acquire when every slot is taken and the
// queue is at its depth.
var ErrQueueFull = errors.New("every slot is busy and the queue is full")

// Limiter hands out a fixed number of slots. Waiters are served strictly
// in arrival order: a released slot goes straight to the oldest waiter,
// so a newcomer can never overtake the queue.
type Limiter struct {
	capacity int
	depth    int
	// overloaded is the body of the 503 a request turned away gets,
	// built once: the overloaded path must stay cheap, as it is taken
	// exactly when the pod has no time to spare.
	overloaded []byte

	mu       sync.Mutex
	inFlight int
	waiting  int
	// head and tail are a doubly linked list of waiters, oldest first, so
	// a waiter whose client left can unlink itself in constant time.
	head, tail *waiter
}

type waiter struct {
	ready      chan struct{}
	prev, next *waiter
	// granted says the waiter owns a slot; set under mu, before ready is
	// closed.
	granted bool
}

// New returns a Limiter with capacity slots and room for depth waiters.
// capacity must be positive: no limit means no Limiter (see Handler).
func New(capacity, depth int) *Limiter {
	if capacity <= 0 {
		panic("limiter: capacity must be positive, got " + strconv.Itoa(capacity))
	}
	depth = max(depth, 0)
	return &Limiter{capacity: capacity, depth: depth, overloaded: []byte("queue-proxy: overloaded: all " + strconv.Itoa(capacity) +
		" slots (containerConcurrency) are busy and " + strconv.Itoa(depth) +
		" requests already wait (queue depth); retry on another pod or later\n")}
}

// OverloadedBody is what a request turned away is answered, with 503:
// it says which limits were reached and what to do.
func (l *Limiter) OverloadedBody() []byte { return l.overloaded }

// Acquire takes a slot, waiting in line if none is free. It returns
// ErrQueueFull at once when the line is full, and ctx's error if ctx ends
// first; then the caller holds no slot. Otherwise the caller must Release.
func (l *Limiter) Acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.inFlight < l.capacity && l.head == nil {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	if l.waiting >= l.depth {
		l.mu.Unlock()
		return ErrQueueFull
	}
	w := &waiter{ready: make(chan struct{})}
	l.push(w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.granted {
		// Release handed us the slot while ctx ended; nobody will use
		// it, so pass it on.
		l.mu.Unlock()
		l.Release()
		return ctx.Err()
	}
	l.unlink(w)
	l.mu.Unlock()
	return ctx.Err()
}

// Admission is TryAdmit's decision.
type Admission int

const (
	// Admitted means the caller holds a slot and must Release it.
	Admitted Admission = iota
	// MustWait means no slot is free (or others wait for one) and there is
	// room in the queue; Acquire would queue.
	MustWait
	// Full means no slot is free and the queue is at its depth; Acquire
	// would return ErrQueueFull.
	Full
)

// TryAdmit takes a free slot if there is one and nobody waits for it,
// without waiting, and otherwise says whether Acquire would queue or
// turn the request away, in one look at the state. The sidecar's fast
// path uses it: a request that would have to queue goes to the net/http
// chain, whose Handler queues it; one that would be turned away is
// answered 503 on the spot, its connection kept.
func (l *Limiter) TryAdmit() Admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.inFlight < l.capacity && l.head == nil:
		l.inFlight++
		return Admitted
	case l.waiting >= l.depth:
		return Full
	}
	return MustWait
}

// Release gives a slot back, to the oldest waiter if there is one.
func (l *Limiter) Release() {
	l.mu.Lock()
	if w := l.head; w != nil {
		l.unlink(w)
		w.granted = true
		l.mu.Unlock()
		// The slot moves to w without inFlight changing.
		close(w.ready)
		return
	}
	l.inFlight--
	if l.inFlight < 0 {
		l.mu.Unlock()
		panic("limiter: Release without Acquire")
	}
	l.mu.Unlock()
}

// Load returns how many slots are taken and how many requests wait.
func (l *Limiter) Load() (inFlight, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight, l.waiting
}

// Capacity returns the number of slots.
func (l *Limiter) Capacity() int { return l.capacity }

// Depth returns how many requests may wait.
func (l *Limiter) Depth() int { return l.depth }

func (l *Limiter) push(w *waiter) {
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.waiting++
}

func (l *Limiter) unlink(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.waiting--
}

// Handler admits requests to next through l. A nil l means no limit and
// returns next itself, so an unlimited revision pays nothing here.
// Requests turned away get 503 with a body saying why; requests whose
// client left while queued get nothing (there is nobody to answer), and a
// request whose timeout fired while queued is answered by the timeout
// stage around this one.
func Handler(next http.Handler, l *Limiter) http.Handler {
	if l == nil {
		return next
	}
	body := l.overloaded
	bodyLen := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.Acquire(r.Context()); err != nil {
			if errors.Is(err, ErrQueueFull) {
				h := w.Header()
				h["Content-Type"] = []string{"text/plain; charset=utf-8"}
				h["Content-Length"] = []string{bodyLen}
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write(body)
			}
			return
		}
		defer l.Release()
		next.ServeHTTP(w, r)
	})
}
