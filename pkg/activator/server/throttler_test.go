package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// acquireAll acquires n pods at once, failing the test when any would
// wait, and returns their addresses in order.
func acquireAll(t *testing.T, th *throttler, n int) ([]*pod, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // never wait
	var pods []*pod
	var addrs []string
	for range n {
		p, err := th.acquire(ctx)
		if err != nil {
			t.Fatalf("acquire #%d: %v, want a pod at once", len(pods)+1, err)
		}
		pods = append(pods, p)
		addrs = append(addrs, p.address)
	}
	return pods, addrs
}

func TestThrottlerFirstFreeWhenTheLimitIsSmall(t *testing.T) {
	th := newThrottler(2, 10)
	th.setPods([]string{"c:1", "a:1", "b:1"})
	_, got := acquireAll(t, th, 5)
	// Pods fill in order, so the last one stays idle for the autoscaler
	// to take away.
	want := []string{"a:1", "a:1", "b:1", "b:1", "c:1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods chosen (-want, +got):\n%s", diff)
	}
}

func TestThrottlerLeastLoadedWithoutALimit(t *testing.T) {
	th := newThrottler(0, 10)
	th.setPods([]string{"a:1", "b:1"})
	// Twenty in flight split exactly evenly only when each goes to the
	// less loaded pod; chance alone rarely does it.
	pods, _ := acquireAll(t, th, 20)
	load := map[string]int{}
	for _, p := range pods {
		load[p.address]++
	}
	if diff := cmp.Diff(map[string]int{"a:1": 10, "b:1": 10}, load); diff != "" {
		t.Errorf("requests per pod after 20 (-want, +got):\n%s", diff)
	}
}

func TestThrottlerLeastLoadedUnderALargeLimit(t *testing.T) {
	th := newThrottler(10, 10)
	th.setPods([]string{"a:1", "b:1"})
	pods, _ := acquireAll(t, th, 20)
	load := map[string]int{}
	for _, p := range pods {
		load[p.address]++
	}
	if diff := cmp.Diff(map[string]int{"a:1": 10, "b:1": 10}, load); diff != "" {
		t.Errorf("requests per pod after 20 (-want, +got):\n%s", diff)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := th.acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("21st acquire with both pods full: %v, want to wait (and give up with the context)", err)
	}
}

func TestThrottlerBuffersUntilAPodHasRoom(t *testing.T) {
	th := newThrottler(1, 10)
	got := make(chan string, 3)
	for range 3 {
		go func() {
			p, err := th.acquire(context.Background())
			if err != nil {
				got <- err.Error()
				return
			}
			got <- p.address
		}()
	}
	waitFor(t, "3 waiters", func() bool { return th.waiting() == 3 })
	th.setPods([]string{"a:1"})
	first := <-got
	if first != "a:1" {
		t.Fatalf("first waiter got %q, want pod a:1", first)
	}
	select {
	case g := <-got:
		t.Fatalf("a second waiter got %q while the only pod is full", g)
	case <-time.After(20 * time.Millisecond):
	}
	th.release(th.pods[0])
	if g := <-got; g != "a:1" {
		t.Fatalf("second waiter got %q after a release, want a:1", g)
	}
	if w := th.waiting(); w != 1 {
		t.Errorf("waiting = %d, want 1", w)
	}
}

func TestThrottlerServesWaitersInArrivalOrder(t *testing.T) {
	th := newThrottler(1, 10)
	order := make(chan int, 5)
	for i := range 5 {
		go func() {
			p, err := th.acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			order <- i
			th.release(p)
		}()
		waitFor(t, fmt.Sprintf("waiter %d queued", i), func() bool { return th.waiting() == i+1 })
	}
	th.setPods([]string{"a:1"})
	for want := range 5 {
		if got := <-order; got != want {
			t.Fatalf("waiter %d served as #%d", got, want)
		}
	}
}

func TestThrottlerBoundsTheQueue(t *testing.T) {
	th := newThrottler(1, 2)
	for range 2 {
		go func() { _, _ = th.acquire(context.Background()) }()
	}
	waitFor(t, "2 waiters", func() bool { return th.waiting() == 2 })
	if _, err := th.acquire(context.Background()); !errors.Is(err, errQueueFull) {
		t.Errorf("third waiter: %v, want %v", err, errQueueFull)
	}
	th.close()
}

func TestThrottlerWaiterGivesUp(t *testing.T) {
	th := newThrottler(1, 10)
	ctx, cancel := context.WithCancelCause(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := th.acquire(ctx)
		errc <- err
	}()
	waitFor(t, "a waiter", func() bool { return th.waiting() == 1 })
	stop := errors.New("client left")
	cancel(stop)
	if err := <-errc; !errors.Is(err, stop) {
		t.Errorf("acquire = %v, want the context's cause %v", err, stop)
	}
	if w := th.waiting(); w != 0 {
		t.Errorf("waiting = %d after the waiter left, want 0", w)
	}
	// The pod that comes next is free for the next request.
	th.setPods([]string{"a:1"})
	acquireAll(t, th, 1)
}

func TestThrottlerCloseFailsWaiters(t *testing.T) {
	th := newThrottler(1, 10)
	errc := make(chan error, 1)
	go func() {
		_, err := th.acquire(context.Background())
		errc <- err
	}()
	waitFor(t, "a waiter", func() bool { return th.waiting() == 1 })
	th.close()
	if err := <-errc; !errors.Is(err, errRevisionGone) {
		t.Errorf("waiter: %v, want %v", err, errRevisionGone)
	}
	if _, err := th.acquire(context.Background()); !errors.Is(err, errRevisionGone) {
		t.Errorf("acquire after close: %v, want %v", err, errRevisionGone)
	}
}

func TestThrottlerRaisedLimitServesWaiters(t *testing.T) {
	th := newThrottler(1, 10)
	th.setPods([]string{"a:1"})
	acquireAll(t, th, 1)
	done := make(chan struct{})
	go func() {
		if _, err := th.acquire(context.Background()); err != nil {
			t.Error(err)
		}
		close(done)
	}()
	waitFor(t, "a waiter", func() bool { return th.waiting() == 1 })
	th.setLimit(2)
	<-done
}

func TestThrottlerRemovedPodGetsNoMore(t *testing.T) {
	th := newThrottler(0, 10)
	th.setPods([]string{"a:1", "b:1"})
	pods, _ := acquireAll(t, th, 2)
	th.setPods([]string{"b:1"})
	for _, p := range pods {
		th.release(p) // a's request ends after a left: no harm
	}
	_, got := acquireAll(t, th, 3)
	if diff := cmp.Diff([]string{"b:1", "b:1", "b:1"}, got); diff != "" {
		t.Errorf("pods chosen after a left (-want, +got):\n%s", diff)
	}
}

// TestThrottlerNeverExceedsTheLimit runs many requests against pods that
// come and go, checking what each pod holds at every moment.
func TestThrottlerNeverExceedsTheLimit(t *testing.T) {
	const limit = 2
	th := newThrottler(limit, 1000)
	var held sync.Map // address → *atomic.Int32
	var over atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		sets := [][]string{{"a:1"}, {"a:1", "b:1"}, {"b:1", "c:1"}, {"a:1", "b:1", "c:1"}}
		for i := 0; ; i++ {
			select {
			case <-stop:
				th.setPods(sets[3])
				return
			case <-time.After(time.Millisecond):
				th.setPods(sets[i%len(sets)])
			}
		}
	}()
	for range 50 {
		wg.Go(func() {
			for range 40 {
				p, err := th.acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				c, _ := held.LoadOrStore(p.address, new(atomic.Int32))
				if n := c.(*atomic.Int32).Add(1); n > limit {
					over.Add(1)
				}
				time.Sleep(time.Duration(rand.IntN(100)) * time.Microsecond)
				c.(*atomic.Int32).Add(-1)
				th.release(p)
			}
		})
	}
	wg.Wait()
	close(stop)
	if n := over.Load(); n > 0 {
		t.Errorf("a pod held more than %d requests %d times", limit, n)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestThrottlerPassesOverAPodThatRefused(t *testing.T) {
	th := newThrottler(0, 10)
	th.setPods([]string{"a:1", "b:1"})
	pods, _ := acquireAll(t, th, 1)
	th.refused(pods[0])
	other := map[string]string{"a:1": "b:1", "b:1": "a:1"}[pods[0].address]
	_, got := acquireAll(t, th, 3)
	if diff := cmp.Diff([]string{other, other, other}, got); diff != "" {
		t.Errorf("pods chosen after %s refused (-want, +got):\n%s", pods[0].address, diff)
	}
	// With the other pod full, the one that refused is still a choice.
	th.setLimit(3)
	_, got = acquireAll(t, th, 1)
	if got[0] != pods[0].address {
		t.Errorf("with %s full, got %s, want the pod that refused rather than a wait", other, got[0])
	}
}
