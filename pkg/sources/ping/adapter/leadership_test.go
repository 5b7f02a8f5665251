package adapter

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

// renewDeadline is the election's in these tests: a leader sends until
// its last renewal plus this.
const renewDeadline = 10 * time.Second

// TestOnlyTheLeaderSends runs two replicas' schedulers on one clock, told
// what the election would tell them, through a failover: every tick is
// sent by one replica, once, and a tick due while neither could send goes
// out late from the new leader.
func TestOnlyTheLeaderSends(t *testing.T) {
	tests := []struct {
		name string
		// failover makes b take over from a between 09:30:00 and
		// 09:31:59, the way the election does, on the clock of both.
		failover func(clk *clocktesting.FakeClock, a, b *replica)
		want     []sent
	}{{
		name: "a crashes after its last renewal at 09:30:45; b takes the expired lease at 09:31:01 and sends 09:31 late, which a's lease no longer allowed it to",
		failover: func(clk *clocktesting.FakeClock, a, b *replica) {
			stepTo(at(9, 30, 45), clk, a, b)
			a.scheduler.Renew(at(9, 30, 45).Add(renewDeadline)) // a's last
			stepTo(at(9, 31, 0), clk, a, b)                     // a still believes it leads
			stepTo(at(9, 31, 1), clk, a, b)
			b.scheduler.Lead(at(9, 30, 45).Add(renewDeadline), at(9, 31, 1).Add(renewDeadline))
		},
		want: []sent{
			{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
			{Replica: "b", Source: sourceAttr("tick"), Tick: at(9, 31, 0), At: at(9, 31, 1)},
			{Replica: "b", Source: sourceAttr("tick"), Tick: at(9, 32, 0), At: at(9, 32, 0)},
		},
	}, {
		name: "a crashes after its last renewal at 09:30:55, having sent 09:31 before its lease ran out; b takes over at 09:31:10 and does not send 09:31 again",
		failover: func(clk *clocktesting.FakeClock, a, b *replica) {
			stepTo(at(9, 30, 55), clk, a, b)
			a.scheduler.Renew(at(9, 30, 55).Add(renewDeadline))
			stepTo(at(9, 31, 0), clk, a, b)
			stepTo(at(9, 31, 10), clk, a, b)
			b.scheduler.Lead(at(9, 30, 55).Add(renewDeadline), at(9, 31, 10).Add(renewDeadline))
		},
		want: []sent{
			{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
			{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 31, 0), At: at(9, 31, 0)},
			{Replica: "b", Source: sourceAttr("tick"), Tick: at(9, 32, 0), At: at(9, 32, 0)},
		},
	}, {
		name: "a shuts down cleanly at 09:30:59.5 and releases the lease; b takes it at 09:31:01 and sends 09:31 late",
		failover: func(clk *clocktesting.FakeClock, a, b *replica) {
			stepTo(at(9, 30, 59).Add(500*time.Millisecond), clk, a, b)
			stopped := a.scheduler.Follow()
			stepTo(at(9, 31, 1), clk, a, b)
			b.scheduler.Lead(stopped, at(9, 31, 1).Add(renewDeadline))
		},
		want: []sent{
			{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
			{Replica: "b", Source: sourceAttr("tick"), Tick: at(9, 31, 0), At: at(9, 31, 1)},
			{Replica: "b", Source: sourceAttr("tick"), Tick: at(9, 32, 0), At: at(9, 32, 0)},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(at(9, 29, 50))
			a := newReplica(t, clk, "a", DefaultMaxLateness)
			b := newReplica(t, clk, "b", DefaultMaxLateness)
			for _, r := range []*replica{a, b} {
				r.upsert(newSource("tick"))
			}
			// a leads; b stands by, its own schedule ticking unsent.
			a.scheduler.Lead(clk.Now(), clk.Now().Add(renewDeadline))
			stepTo(at(9, 29, 55), clk, a, b)
			a.scheduler.Renew(at(9, 29, 55).Add(renewDeadline))
			stepTo(at(9, 30, 0), clk, a, b)

			tc.failover(clk, a, b)
			b.settle()
			b.scheduler.Renew(at(9, 31, 59).Add(renewDeadline))
			stepTo(at(9, 32, 0), clk, a, b)

			got := append(a.sender.Sent(), b.sender.Sent()...)
			if d := cmp.Diff(tc.want, got, cmp.Comparer(time.Time.Equal)); d != "" {
				t.Errorf("ticks sent by both replicas (-want, +got):\n%s", d)
			}
		})
	}
}

// TestANewLeaderCatchesUp checks which missed ticks a new leader sends
// when it takes over: the latest since the previous leader stopped, once,
// if the source existed then and it is not too old.
func TestANewLeaderCatchesUp(t *testing.T) {
	tests := []struct {
		name   string
		source string
		opts   []SourceOption
		since  time.Time
		now    time.Time
		want   []time.Time // ticks sent at now
	}{{
		name:  "one tick missed: sent late",
		since: at(9, 29, 30), now: at(9, 30, 20),
		want: []time.Time{at(9, 30, 0)},
	}, {
		name:  "three missed: only the latest",
		since: at(9, 27, 30), now: at(9, 30, 20),
		want: []time.Time{at(9, 30, 0)},
	}, {
		name:  "the previous leader could still send the latest: nothing",
		since: at(9, 30, 1), now: at(9, 30, 20),
	}, {
		name:  "since on the tick: the tick is sent (the previous leader sent nothing at or after since)",
		since: at(9, 30, 0), now: at(9, 30, 20),
		want: []time.Time{at(9, 30, 0)},
	}, {
		name:  "older than the maximum lateness: nothing",
		opts:  []SourceOption{WithSchedule("0 9 * * *", "")},
		since: at(8, 0, 0), now: at(9, 5, 1),
	}, {
		name:  "as old as the maximum lateness: sent",
		opts:  []SourceOption{WithSchedule("0 9 * * *", "")},
		since: at(8, 0, 0), now: at(9, 5, 0),
		want: []time.Time{at(9, 0, 0)},
	}, {
		name:  "the source was made after the tick: nothing",
		opts:  []SourceOption{WithCreated(at(9, 30, 0))},
		since: at(9, 29, 30), now: at(9, 30, 20),
	}, {
		name:  "the source was made the second before the tick: sent",
		opts:  []SourceOption{WithCreated(at(9, 29, 59))},
		since: at(9, 29, 30), now: at(9, 30, 20),
		want: []time.Time{at(9, 30, 0)},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(at(9, 0, 0).Add(-12 * time.Hour))
			r := newReplica(t, clk, "b", 5*time.Minute)
			r.upsert(newSource("tick", tc.opts...))
			stepTo(tc.now, clk, r)

			r.scheduler.Lead(tc.since, tc.now.Add(renewDeadline))
			r.settle()

			var want []sent
			for _, tick := range tc.want {
				want = append(want, sent{Replica: "b", Source: sourceAttr("tick"), Tick: tick, At: tc.now})
			}
			if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
				t.Errorf("ticks sent (-want, +got):\n%s", d)
			}
		})
	}
}

// TestATickIsNotSentTwiceByOneReplica: a replica that leads again sends
// no tick it sent in its previous term, whoever reported it missed.
func TestATickIsNotSentTwiceByOneReplica(t *testing.T) {
	clk := clocktesting.NewFakeClock(at(9, 29, 50))
	r := newReplica(t, clk, "a", DefaultMaxLateness)
	r.upsert(newSource("tick"))
	r.lead()
	stepTo(at(9, 30, 0), clk, r)
	r.scheduler.Follow()
	stepTo(at(9, 30, 5), clk, r)
	r.scheduler.Lead(at(9, 29, 55), at(9, 30, 15))
	r.settle()

	want := []sent{{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 30, 0), At: at(9, 30, 0)}}
	if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
		t.Errorf("ticks sent (-want, +got):\n%s", d)
	}
}
