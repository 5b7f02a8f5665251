package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"flywheel.dev/pkg/sources/ping"
)

// The default timing of the election. A leader that stops renewing (its
// process died) is replaced about DefaultLeaseDuration later; one that
// shuts down cleanly releases the lease and is replaced within
// DefaultRetryPeriod.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Leadership is what the election tells a Scheduler.
type Leadership interface {
	Lead(since, until time.Time)
	Renew(until time.Time)
	Follow() time.Time
}

var _ Leadership = (*Scheduler)(nil)

// ElectionConfig is where and how the adapter's replicas elect a leader.
type ElectionConfig struct {
	Client    kubernetes.Interface
	Namespace string
	// Identity names this replica in the Lease: the pod's name.
	Identity      string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// Elect takes part in the election of the adapter's leader until ctx ends,
// telling leadership when this replica leads. When ctx ends while it leads
// it releases the lease, so that another replica takes over at once.
//
// Call it once the schedules are loaded: a new leader sends, at once, the
// ticks missed while no replica led, of the sources it knows.
func Elect(ctx context.Context, cfg ElectionConfig, leadership Leadership, log *slog.Logger) error {
	for ctx.Err() == nil {
		lock := &gatedLock{
			Interface: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: ping.LeaseName},
				Client:     cfg.Client.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
			},
			leadership:    leadership,
			renewDeadline: cfg.RenewDeadline,
		}
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            ping.LeaseName,
			LeaseDuration:   cfg.LeaseDuration,
			RenewDeadline:   cfg.RenewDeadline,
			RetryPeriod:     cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				// The lock starts the term itself (gatedLock.Update),
				// the moment the lease is written.
				OnStartedLeading: func(context.Context) { log.Info("leading: sending the ticks", "identity", cfg.Identity) },
				// Renewing failed, or ctx ended: the lease's end stops
				// the sends anyway; this stops them sooner.
				OnStoppedLeading: func() {
					leadership.Follow()
					log.Info("not leading", "identity", cfg.Identity)
				},
				OnNewLeader: func(identity string) { log.Info("leader elected", "leader", identity) },
			},
		})
		if err != nil {
			return fmt.Errorf("leader election of Lease %s/%s: %w", cfg.Namespace, ping.LeaseName, err)
		}
		// Run returns when ctx ends, or when this replica lost the lease;
		// then it stands for election again.
		elector.Run(ctx)
	}
	return nil
}

// gatedLock is the Lease as the Scheduler sees it. client-go's elector
// writes the Lease through it, and it tells the Scheduler of each write
// that changes what this replica may send, with times taken from the
// Lease itself:
//
//   - a write that makes this replica the holder starts its term (Lead),
//     from when the previous holder stopped sending, which the record read
//     just before says;
//   - a write that renews it extends the term (Renew) to the renewal's
//     time plus the renew deadline: client-go's elector gives up leading
//     by then when it cannot renew, and another replica can take over only
//     a lease duration after the last renewal it saw, which is later;
//   - a write that releases it ends the term (Follow) before the Lease
//     says so, and records when sending stopped as the release's time.
//
// Each replica's sends are thus bounded by times both it and its successor
// read from the Lease: the previous leader sent no tick at or after the
// time the successor starts from, whatever either's clock says.
type gatedLock struct {
	resourcelock.Interface
	leadership    Leadership
	renewDeadline time.Duration

	mu sync.Mutex
	// held says this replica holds the lease since its last write of it.
	held bool
	// read is the record last read while not holding the lease; nil when
	// there was none.
	read *resourcelock.LeaderElectionRecord
}

// Get reads the Lease, and remembers what it held before this replica
// took it.
func (l *gatedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	record, raw, err := l.Interface.Get(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		switch {
		case err == nil:
			copied := *record
			l.read = &copied
		case apierrs.IsNotFound(err):
			l.read = nil
		}
	}
	return record, raw, err
}

// Create makes the Lease, held by this replica: a first term, with nothing
// to catch up.
func (l *gatedLock) Create(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	record.RenewTime = metav1.NewTime(floorMicro(record.RenewTime.Time))
	if err := l.Interface.Create(ctx, record); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read = nil
	l.wrote(record)
	return nil
}

// Update writes the Lease: a renewal, an acquisition, or a release.
func (l *gatedLock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	if record.HolderIdentity != l.Identity() {
		// A release: stop sending first, then say so.
		l.mu.Lock()
		stopped := l.leadership.Follow()
		l.held = false
		l.mu.Unlock()
		record.RenewTime = metav1.NewTime(ceilMicro(latest(record.RenewTime.Time, stopped)))
		return l.Interface.Update(ctx, record)
	}
	record.RenewTime = metav1.NewTime(floorMicro(record.RenewTime.Time))
	if err := l.Interface.Update(ctx, record); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wrote(record)
	return nil
}

// wrote tells the Scheduler of a successful write of the Lease held by
// this replica. Callers hold l.mu.
func (l *gatedLock) wrote(record resourcelock.LeaderElectionRecord) {
	until := record.RenewTime.Add(l.renewDeadline)
	if l.held {
		l.leadership.Renew(until)
		return
	}
	l.held = true
	l.leadership.Lead(l.previousTermEnd(record.RenewTime.Time), until)
}

// previousTermEnd is when the previous holder stopped sending, by the
// record read before this replica took the lease: the release's time for
// a lease released, the last renewal plus the renew deadline for one that
// expired, and acquired, the time of this replica's acquisition, for a
// lease no one held before.
func (l *gatedLock) previousTermEnd(acquired time.Time) time.Time {
	switch {
	case l.read == nil:
		return acquired
	case l.read.HolderIdentity == "":
		return l.read.RenewTime.Time
	default:
		return l.read.RenewTime.Add(l.renewDeadline)
	}
}

// floorMicro and ceilMicro round t to the Lease's precision, so that the
// time a replica holds and the time the Lease keeps are the same:
// rounding down shortens a term, rounding up delays the next.
func floorMicro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func ceilMicro(t time.Time) time.Time {
	if f := floorMicro(t); !f.Equal(t) {
		return f.Add(time.Microsecond)
	}
	return t
}
