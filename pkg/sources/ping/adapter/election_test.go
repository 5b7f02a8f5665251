package adapter

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	fakekube "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"flywheel.dev/pkg/sources/ping"
)

const systemNamespace = "flywheel-system"

// electionTiming is short, so that a test waits little, and long enough
// that a loaded machine does not lose a lease between two renewals.
var electionTiming = ElectionConfig{
	Namespace:     systemNamespace,
	LeaseDuration: 3 * time.Second,
	RenewDeadline: 2 * time.Second,
	RetryPeriod:   100 * time.Millisecond,
}

// term is one Lead call.
type term struct{ since, until time.Time }

// recordedLeadership records what the election tells a replica, and the
// Lease's holder at each Follow.
type recordedLeadership struct {
	client kubernetes.Interface

	mu             sync.Mutex
	terms          []term
	renewals       int
	follows        []time.Time
	holderAtFollow []string
}

func (r *recordedLeadership) Lead(since, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.terms = append(r.terms, term{since, until})
}

func (r *recordedLeadership) Renew(time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.renewals++
}

func (r *recordedLeadership) Follow() time.Time {
	holder := "(no Lease)"
	if l, err := r.client.CoordinationV1().Leases(systemNamespace).Get(context.Background(), ping.LeaseName, metav1.GetOptions{}); err == nil {
		holder = ptr.Deref(l.Spec.HolderIdentity, "")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.follows = append(r.follows, now)
	r.holderAtFollow = append(r.holderAtFollow, holder)
	return now
}

// snapshot returns the terms, the renewals and the follows so far.
func (r *recordedLeadership) snapshot() ([]term, int, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]term(nil), r.terms...), r.renewals, append([]time.Time(nil), r.follows...)
}

// candidate is one replica standing for election.
type candidate struct {
	leadership *recordedLeadership
	stop       context.CancelFunc
	done       chan struct{}
}

// stand starts identity's election on client; the test's end stops it.
func stand(t *testing.T, client kubernetes.Interface, identity string) *candidate {
	t.Helper()
	cfg := electionTiming
	cfg.Client, cfg.Identity = client, identity
	c := &candidate{leadership: &recordedLeadership{client: client}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go func() {
		defer close(c.done)
		if err := Elect(ctx, cfg, c.leadership, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Errorf("Elect(%s): %v", identity, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

// waitToLead waits for c's first term and returns it.
func (c *candidate) waitToLead(t *testing.T) term {
	t.Helper()
	waitFor(t, "a term", func() bool {
		terms, _, _ := c.leadership.snapshot()
		return len(terms) > 0
	})
	terms, _, _ := c.leadership.snapshot()
	return terms[0]
}

// TestAFirstLeaderCatchesNothingUp: with no Lease yet, the term starts at
// the acquisition, and the leader renews.
func TestAFirstLeaderCatchesNothingUp(t *testing.T) {
	client := fakekube.NewClientset()
	a := stand(t, client, "adapter-a")
	first := a.waitToLead(t)
	if got := first.until.Sub(first.since); got != electionTiming.RenewDeadline {
		t.Errorf("term from %v until %v: want it to start at the acquisition, a renew deadline before its end", first.since, first.until)
	}
	waitFor(t, "a renewal", func() bool {
		_, renewals, _ := a.leadership.snapshot()
		return renewals > 0
	})
}

// TestALeaderAfterACrashStartsWhereTheDeadLeaderStopped: the previous
// holder's lease expired; the new leader's term starts at that holder's
// last renewal plus the renew deadline, when it stopped sending.
func TestALeaderAfterACrashStartsWhereTheDeadLeaderStopped(t *testing.T) {
	lastRenewal := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	client := fakekube.NewClientset(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: ping.LeaseName},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("adapter-crashed"),
			LeaseDurationSeconds: ptr.To[int32](3),
			AcquireTime:          &metav1.MicroTime{Time: lastRenewal.Add(-time.Hour)},
			RenewTime:            &metav1.MicroTime{Time: lastRenewal},
		},
	})
	a := stand(t, client, "adapter-a")
	if got, want := a.waitToLead(t).since, lastRenewal.Add(electionTiming.RenewDeadline); !got.Equal(want) {
		t.Errorf("term starts at %v, want the dead leader's last renewal plus the renew deadline, %v", got, want)
	}
}

// TestAReleaseHandsOverAtOnce: the leader shuts down cleanly; it stops
// sending before the Lease says it released it, and the next leader's term
// starts exactly when it stopped, rather than a renew deadline later.
func TestAReleaseHandsOverAtOnce(t *testing.T) {
	client := fakekube.NewClientset()
	a := stand(t, client, "adapter-a")
	a.waitToLead(t)
	b := stand(t, client, "adapter-b")
	// b reads the Lease a holds, and waits.
	waitFor(t, "adapter-b to see adapter-a lead", func() bool {
		l, err := client.CoordinationV1().Leases(systemNamespace).Get(context.Background(), ping.LeaseName, metav1.GetOptions{})
		return err == nil && ptr.Deref(l.Spec.HolderIdentity, "") == "adapter-a"
	})

	a.stop()
	<-a.done
	second := b.waitToLead(t)

	_, _, follows := a.leadership.snapshot()
	if len(follows) == 0 {
		t.Fatal("adapter-a released the Lease without being told to stop sending")
	}
	a.leadership.mu.Lock()
	holder := a.leadership.holderAtFollow[0]
	a.leadership.mu.Unlock()
	if holder != "adapter-a" {
		t.Errorf("adapter-a was told to stop sending when the Lease's holder was %q; want before its release", holder)
	}
	if want := ceilMicro(follows[0]); !second.since.Equal(want) {
		t.Errorf("adapter-b's term starts at %v, want when adapter-a stopped sending, %v", second.since, want)
	}
	if terms, _, _ := b.leadership.snapshot(); len(terms) != 1 {
		t.Errorf("adapter-b led %d times, want once", len(terms))
	}
}

// TestMicroRounding: the Lease keeps microseconds; a term's end rounds
// down and a successor's start rounds up, never the other way.
func TestMicroRounding(t *testing.T) {
	exact := time.Date(2026, 11, 22, 9, 30, 0, 5000, time.UTC)
	inBetween := exact.Add(1)
	if got := floorMicro(inBetween); !got.Equal(exact) {
		t.Errorf("floorMicro(%v) = %v, want %v", inBetween, got, exact)
	}
	if got, want := ceilMicro(inBetween), exact.Add(time.Microsecond); !got.Equal(want) {
		t.Errorf("ceilMicro(%v) = %v, want %v", inBetween, got, want)
	}
	if got := ceilMicro(exact); !got.Equal(exact) {
		t.Errorf("ceilMicro(%v) = %v, want it unchanged", exact, got)
	}
}
