package node

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPodQueueRateLimiterWaitsLittleAndBacksOff holds a new pod or a new
// status 1 ms, not client-go's 5 ms, and still doubles the wait for an
// item that keeps coming back (a failing status write) until it is done.
func TestPodQueueRateLimiterWaitsLittleAndBacksOff(t *testing.T) {
	l := podQueueRateLimiter()
	var got []time.Duration
	for range 4 {
		got = append(got, l.When("bench/pod"))
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits of an item queued again and again (-want, +got):\n%s", diff)
	}
	l.Forget("bench/pod")
	if got := l.When("bench/pod"); got != time.Millisecond {
		t.Errorf("wait once the item was done = %v, want 1ms", got)
	}
	if got := l.When("bench/other"); got != time.Millisecond {
		t.Errorf("wait of another item = %v, want 1ms", got)
	}
}
