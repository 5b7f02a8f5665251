package server

import (
	"container/list"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// firstFreeLimit is the largest containerConcurrency for which a request
// goes to the first pod with room rather than the least loaded one. With
// a limit this small a pod is either full or nearly idle, so counting
// load buys nothing, and filling pods in order leaves the others idle
// for the autoscaler to take away.
const firstFreeLimit = 3

// Errors of throttler.acquire.
var (
	// errQueueFull means the request would have been buffered beyond the
	// bound on buffered requests.
	errQueueFull = errors.New("too many requests are already waiting for this revision")
	// errRevisionGone means the Revision was deleted while the request
	// waited for it.
	errRevisionGone = errors.New("the revision was deleted")
)

// pod is one ready pod of a Revision as the activator sees it: where to
// send requests and how many it has from this activator.
type pod struct {
	address  string
	inFlight int
	// ready is false once the pod has left the Revision's endpoints; its
	// requests in flight finish, but it gets no new ones.
	ready bool
	// refusedUntil is set when connecting to the pod failed: until then
	// it is chosen only when no other pod has room. Its endpoint usually
	// goes soon after.
	refusedUntil time.Time
}

// refusalMemory is how long a pod that refused a connection is passed
// over.
const refusalMemory = time.Second

// waiter is a request buffered until a pod has room for it. The pod is
// handed over on got, which has room for exactly one value, so the
// handing side never blocks.
type waiter struct {
	got chan *pod
}

// throttler holds one Revision's ready pods and the requests waiting for
// one of them. It keeps each pod at or below the Revision's
// containerConcurrency (counting this activator's requests only, which is
// exact while the activator is the Revision's only entry point, as it is
// in proxy mode) and buffers the rest, up to maxQueue of them.
type throttler struct {
	mu sync.Mutex
	// limit is containerConcurrency; 0 means none.
	limit int
	// maxQueue bounds the number of waiters.
	maxQueue int
	pods     []*pod
	// known holds the ready pods and those that left with requests still
	// in flight, so that a pod that comes back is counted with them.
	known map[string]*pod
	// waiters are served in arrival order.
	waiters *list.List
	gone    bool
}

func newThrottler(limit, maxQueue int) *throttler {
	return &throttler{limit: limit, maxQueue: maxQueue, known: map[string]*pod{}, waiters: list.New()}
}

// acquire returns a pod with room for one more request, counting the
// request against it; the caller must release it. When no pod has room
// the request waits, until one does, ctx ends, or the Revision goes.
func (t *throttler) acquire(ctx context.Context) (*pod, error) {
	t.mu.Lock()
	if p, err := t.tryAcquireLocked(); p != nil || err != nil {
		t.mu.Unlock()
		return p, err
	}
	if t.waiters.Len() >= t.maxQueue {
		t.mu.Unlock()
		return nil, errQueueFull
	}
	w := &waiter{got: make(chan *pod, 1)}
	elem := t.waiters.PushBack(w)
	t.mu.Unlock()

	select {
	case p := <-w.got:
		if p == nil {
			return nil, errRevisionGone
		}
		return p, nil
	case <-ctx.Done():
		t.mu.Lock()
		defer t.mu.Unlock()
		select {
		case p := <-w.got:
			// Handed a pod on the way out: give it to the next in line.
			if p != nil {
				t.releaseLocked(p)
			}
		default:
			t.waiters.Remove(elem)
		}
		return nil, context.Cause(ctx)
	}
}

// eachKnown calls fn with the address of each pod the throttler knows:
// ready, or gone with requests still in flight.
func (t *throttler) eachKnown(fn func(address string)) {
	t.mu.Lock()
	addrs := make([]string, 0, len(t.known))
	for a := range t.known {
		addrs = append(addrs, a)
	}
	t.mu.Unlock()
	for _, a := range addrs {
		fn(a)
	}
}

// tryAcquire is acquire without the wait: it returns no pod and no error
// when the request would have to wait.
func (t *throttler) tryAcquire() (*pod, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tryAcquireLocked()
}

func (t *throttler) tryAcquireLocked() (*pod, error) {
	if t.gone {
		return nil, errRevisionGone
	}
	// Waiters come first: a newcomer must not overtake them.
	if t.waiters.Len() > 0 {
		return nil, nil
	}
	p := t.pick()
	if p != nil {
		p.inFlight++
	}
	return p, nil
}

// release ends a request that acquire counted against p.
func (t *throttler) release(p *pod) {
	t.mu.Lock()
	t.releaseLocked(p)
	t.mu.Unlock()
}

func (t *throttler) releaseLocked(p *pod) {
	p.inFlight--
	if !p.ready && p.inFlight == 0 && t.known[p.address] == p {
		delete(t.known, p.address)
	}
	t.dispatch()
}

// pick returns the pod the next request goes to, or nil when none has
// room; a pod that recently refused a connection only when no other has.
// t.mu must be held.
func (t *throttler) pick() *pod {
	var now time.Time
	refused := func(p *pod) bool {
		if p.refusedUntil.IsZero() {
			return false
		}
		if now.IsZero() {
			now = time.Now()
		}
		return now.Before(p.refusedUntil)
	}
	if p := t.pickAmong(func(p *pod) bool { return !refused(p) }); p != nil {
		return p
	}
	return t.pickAmong(refused)
}

// pickAmong is pick among the pods for which ok holds. t.mu must be held.
func (t *throttler) pickAmong(ok func(*pod) bool) *pod {
	n := len(t.pods)
	if n == 0 {
		return nil
	}
	if t.limit > 0 && t.limit <= firstFreeLimit {
		for _, p := range t.pods {
			if p.inFlight < t.limit && ok(p) {
				return p
			}
		}
		return nil
	}
	// Least loaded, ties broken from a random start so that idle pods
	// share the load instead of the first taking all of it.
	var best *pod
	start := rand.IntN(n)
	for i := range n {
		p := t.pods[(start+i)%n]
		if (t.limit > 0 && p.inFlight >= t.limit) || !ok(p) {
			continue
		}
		if best == nil || p.inFlight < best.inFlight {
			best = p
		}
	}
	return best
}

// refused ends a request that acquire counted against p because
// connecting to p failed, and passes p over for a while.
func (t *throttler) refused(p *pod) {
	t.mu.Lock()
	p.refusedUntil = time.Now().Add(refusalMemory)
	t.releaseLocked(p)
	t.mu.Unlock()
}

// dispatch hands pods with room to waiters, in order. t.mu must be held.
func (t *throttler) dispatch() {
	for t.waiters.Len() > 0 {
		p := t.pick()
		if p == nil {
			return
		}
		w := t.waiters.Remove(t.waiters.Front()).(*waiter)
		p.inFlight++
		w.got <- p
	}
}

// setPods replaces the ready pods with those at addresses, keeping the
// count of requests in flight of the pods that stay, and serves waiters
// from the new ones.
func (t *throttler) setPods(addresses []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pods {
		p.ready = false
	}
	pods := make([]*pod, 0, len(addresses))
	for _, a := range addresses {
		p, ok := t.known[a]
		if !ok {
			p = &pod{address: a}
			t.known[a] = p
		}
		if !p.ready {
			p.ready = true
			pods = append(pods, p)
		}
	}
	for a, p := range t.known {
		if !p.ready && p.inFlight == 0 {
			delete(t.known, a)
		}
	}
	// A stable order keeps first-free packing onto the same pods.
	slices.SortFunc(pods, func(a, b *pod) int {
		switch {
		case a.address < b.address:
			return -1
		case a.address > b.address:
			return 1
		}
		return 0
	})
	t.pods = pods
	t.dispatch()
}

// setLimit changes containerConcurrency. A higher limit may free room
// for waiters at once.
func (t *throttler) setLimit(limit int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limit = limit
	t.dispatch()
}

// readyPods returns how many ready pods the Revision has.
func (t *throttler) readyPods() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pods)
}

// waiting returns how many requests are buffered.
func (t *throttler) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waiters.Len()
}

// close fails every waiter and every later acquire: the Revision is gone.
func (t *throttler) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gone = true
	for t.waiters.Len() > 0 {
		w := t.waiters.Remove(t.waiters.Front()).(*waiter)
		w.got <- nil
	}
}
