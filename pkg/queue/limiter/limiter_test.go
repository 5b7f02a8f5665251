package limiter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitFor polls cond until it holds, failing the test after a bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waiting(l *Limiter) int {
	_, w := l.Load()
	return w
}

func TestFIFO(t *testing.T) {
	l := New(1, 10)
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 5)
	for i := range 5 {
		go func() {
			if err := l.Acquire(context.Background()); err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			order <- i
		}()
		// Queue them one at a time so that arrival order is known.
		waitFor(t, "waiter to queue", func() bool { return waiting(l) == i+1 })
	}
	var got []int
	for range 5 {
		l.Release()
		got = append(got, <-order)
	}
	l.Release()
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, got); diff != "" {
		t.Errorf("grant order (-want, +got):\n%s", diff)
	}
	if in, w := l.Load(); in != 0 || w != 0 {
		t.Errorf("after all released: %d in flight, %d waiting; want 0, 0", in, w)
	}
}

func TestNewcomerDoesNotOvertakeTheQueue(t *testing.T) {
	l := New(1, 10)
	_ = l.Acquire(context.Background())
	granted := make(chan struct{})
	go func() {
		if l.Acquire(context.Background()) == nil {
			close(granted)
		}
	}()
	waitFor(t, "waiter to queue", func() bool { return waiting(l) == 1 })
	l.Release()
	<-granted
	// The slot went to the waiter, so a newcomer must now wait too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("newcomer Acquire = %v, want to wait behind the granted waiter", err)
	}
}

func TestQueueBound(t *testing.T) {
	l := New(2, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		if err := l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { _ = l.Acquire(ctx) })
		waitFor(t, "waiter to queue", func() bool { return waiting(l) == i+1 })
	}
	start := time.Now()
	if err := l.Acquire(ctx); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Acquire beyond the queue = %v, want ErrQueueFull", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v; it must not wait", d)
	}
	cancel()
	wg.Wait()
	if in, w := l.Load(); in != 2 || w != 0 {
		t.Errorf("after cancelling the waiters: %d in flight, %d waiting; want 2, 0", in, w)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	l := New(1, 10)
	_ = l.Acquire(context.Background())

	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() { errA <- l.Acquire(ctxA) }()
	waitFor(t, "A to queue", func() bool { return waiting(l) == 1 })
	grantedB := make(chan struct{})
	go func() {
		if l.Acquire(context.Background()) == nil {
			close(grantedB)
		}
	}()
	waitFor(t, "B to queue", func() bool { return waiting(l) == 2 })

	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("A's Acquire = %v, want context.Canceled", err)
	}
	if w := waiting(l); w != 1 {
		t.Errorf("waiting after A left = %d, want 1", w)
	}
	l.Release()
	select {
	case <-grantedB:
	case <-time.After(10 * time.Second):
		t.Fatal("the released slot did not reach B")
	}
	l.Release()
	if in, w := l.Load(); in != 0 || w != 0 {
		t.Errorf("end: %d in flight, %d waiting; want 0, 0", in, w)
	}
}

// TestCancelRacingRelease hammers the window where a slot is handed to a
// waiter whose context ends at the same time: no slot may leak or double.
func TestCancelRacingRelease(t *testing.T) {
	l := New(2, 100)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel()
			} else {
				go cancel()
			}
			if l.Acquire(ctx) == nil {
				l.Release()
			}
			cancel()
		})
	}
	wg.Wait()
	if in, w := l.Load(); in != 0 || w != 0 {
		t.Errorf("end: %d in flight, %d waiting; want 0, 0", in, w)
	}
}

func TestHandler(t *testing.T) {
	t.Run("no limit is the next handler itself", func(t *testing.T) {
		next := http.NotFoundHandler()
		if got := Handler(next, nil); got == nil {
			t.Fatal("nil handler")
		}
	})
	t.Run("overload answers 503 with a reason", func(t *testing.T) {
		l := New(1, 0)
		release := make(chan struct{})
		h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), l)
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			close(done)
		}()
		waitFor(t, "first request to take the slot", func() bool { in, _ := l.Load(); return in == 1 })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		close(release)
		<-done
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "overloaded") {
			t.Errorf("second request = %d %q, want 503 saying overloaded", rec.Code, rec.Body)
		}
	})
	t.Run("a client that left while queued gets nothing written", func(t *testing.T) {
		l := New(1, 1)
		_ = l.Acquire(context.Background())
		defer l.Release()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		Handler(http.NotFoundHandler(), l).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
		if rec.Body.Len() != 0 {
			t.Errorf("wrote %q for a departed client", rec.Body)
		}
	})
}

// TestTryAdmitDecidesAsAcquireWould: a free slot is taken; with every
// slot busy, a request would queue while the queue has room (or while a
// waiter is ahead, even with a slot free: nobody overtakes the line) and
// is refused once it is full.
func TestTryAdmitDecidesAsAcquireWould(t *testing.T) {
	l := New(1, 1)
	if got := l.TryAdmit(); got != Admitted {
		t.Fatalf("TryAdmit with a free slot = %v, want Admitted", got)
	}
	if got := l.TryAdmit(); got != MustWait {
		t.Errorf("TryAdmit with the slot busy and room to wait = %v, want MustWait", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acquired := make(chan error, 1)
	go func() { acquired <- l.Acquire(ctx) }()
	waitFor(t, "waiter to queue", func() bool { return waiting(l) == 1 })
	if got := l.TryAdmit(); got != Full {
		t.Errorf("TryAdmit with the slot busy and the queue full = %v, want Full", got)
	}
	if in, w := l.Load(); in != 1 || w != 1 {
		t.Errorf("after refusals: %d in flight, %d waiting; want 1, 1 (TryAdmit took nothing)", in, w)
	}
	l.Release()
	if err := <-acquired; err != nil {
		t.Fatal(err)
	}
	l.Release()
	if got := l.TryAdmit(); got != Admitted {
		t.Errorf("TryAdmit once all is released = %v, want Admitted", got)
	}
	if body := string(l.OverloadedBody()); !strings.Contains(body, "all 1 slots (containerConcurrency)") || !strings.Contains(body, "1 requests already wait") {
		t.Errorf("OverloadedBody = %q, want it to name both limits", body)
	}
}
