package adapter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

// utc is a time in UTC, for the rows below.
func utc(year int, month time.Month, day, hour, minute int) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, time.UTC)
}

// TestTicksFollowTheSchedule runs each schedule on a fake clock and checks
// the ticks a leader sends: at their times, in their time zones, across
// daylight-saving changes.
func TestTicksFollowTheSchedule(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		timezone string
		start    time.Time
		want     []time.Time // the ticks sent, in UTC
	}{{
		name:     "every minute",
		schedule: "* * * * *",
		start:    utc(2026, 11, 22, 9, 29).Add(30 * time.Second),
		want:     []time.Time{utc(2026, 11, 22, 9, 30), utc(2026, 11, 22, 9, 31), utc(2026, 11, 22, 9, 32)},
	}, {
		name:     "no schedule: every minute",
		schedule: "",
		start:    utc(2026, 11, 22, 9, 29).Add(30 * time.Second),
		want:     []time.Time{utc(2026, 11, 22, 9, 30), utc(2026, 11, 22, 9, 31)},
	}, {
		name:     "steps and ranges: every quarter hour from 9 to 10 on weekdays, from Friday 10:40 to Monday",
		schedule: "*/15 9-10 * * 1-5",
		start:    utc(2026, 11, 20, 10, 40),
		want:     []time.Time{utc(2026, 11, 20, 10, 45), utc(2026, 11, 23, 9, 0), utc(2026, 11, 23, 9, 15)},
	}, {
		name:     "a list",
		schedule: "5,35 * * * *",
		start:    utc(2026, 11, 22, 9, 0),
		want:     []time.Time{utc(2026, 11, 22, 9, 5), utc(2026, 11, 22, 9, 35), utc(2026, 11, 22, 10, 5)},
	}, {
		name:     "a descriptor",
		schedule: "@hourly",
		start:    utc(2026, 11, 22, 9, 30),
		want:     []time.Time{utc(2026, 11, 22, 10, 0), utc(2026, 11, 22, 11, 0)},
	}, {
		name:     "no time zone: UTC, whatever the machine's",
		schedule: "0 9 * * *",
		start:    utc(2026, 11, 22, 0, 0),
		want:     []time.Time{utc(2026, 11, 22, 9, 0), utc(2026, 11, 23, 9, 0)},
	}, {
		name:     "timezone field: 09:00 in New York is 14:00 UTC in winter",
		schedule: "0 9 * * *",
		timezone: "America/New_York",
		start:    utc(2026, 11, 22, 0, 0),
		want:     []time.Time{utc(2026, 11, 22, 14, 0), utc(2026, 11, 23, 14, 0)},
	}, {
		name:     "CRON_TZ prefix: 09:00 in Tokyo is midnight UTC",
		schedule: "CRON_TZ=Asia/Tokyo 0 9 * * *",
		start:    utc(2026, 11, 21, 12, 0),
		want:     []time.Time{utc(2026, 11, 22, 0, 0), utc(2026, 11, 23, 0, 0)},
	}, {
		name:     "daylight saving starts: 09:00 in Berlin moves from 08:00 to 07:00 UTC",
		schedule: "0 9 * * *",
		timezone: "Europe/Berlin",
		start:    utc(2026, 3, 28, 0, 0),
		want:     []time.Time{utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0), utc(2026, 3, 30, 7, 0)},
	}, {
		name:     "daylight saving starts: 02:30 does not exist in Berlin that night, so that day has no tick",
		schedule: "30 2 * * *",
		timezone: "Europe/Berlin",
		start:    utc(2026, 3, 27, 12, 0),
		want:     []time.Time{utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30)},
	}, {
		name:     "daylight saving ends: 02:30 happens twice in Berlin that night, and ticks twice",
		schedule: "30 2 * * *",
		timezone: "Europe/Berlin",
		start:    utc(2026, 10, 24, 12, 0),
		want:     []time.Time{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 1, 30)},
	}, {
		name:     "daylight saving ends: every hour is still one hour apart",
		schedule: "0 * * * *",
		timezone: "Europe/Berlin",
		start:    utc(2026, 10, 24, 23, 30),
		want:     []time.Time{utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 2, 0)},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(tc.start)
			r := newReplica(t, clk, "a", DefaultMaxLateness)
			r.upsert(newSource("tick", WithSchedule(tc.schedule, tc.timezone)))
			r.lead()

			var want []sent
			for _, tick := range tc.want {
				want = append(want, sent{Replica: "a", Source: sourceAttr("tick"), Tick: tick, At: tick})
				stepTo(r.nextTick(), clk, r)
			}

			if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
				t.Errorf("ticks sent (-want, +got):\n%s", d)
			}
		})
	}
}

// TestUpdatesTakeEffectAtOnce changes a source between its ticks.
func TestUpdatesTakeEffectAtOnce(t *testing.T) {
	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	r := newReplica(t, clk, "a", DefaultMaxLateness)
	r.upsert(newSource("tick"))
	r.lead()
	stepTo(at(9, 30, 0), clk, r)

	// New data only: the tick waited for stays, and carries the new data.
	r.upsert(newSource("tick", WithData("text/plain", "second")))
	stepTo(at(9, 31, 0), clk, r)
	// A new schedule: its own next tick, not the old one's.
	r.upsert(newSource("tick", WithSchedule("*/5 * * * *", "")))
	if got, want := r.nextTick(), at(9, 35, 0); !got.Equal(want) {
		t.Errorf("next tick after the schedule changed = %v, want %v", got, want)
	}
	stepTo(at(9, 32, 0), clk, r)
	stepTo(at(9, 35, 0), clk, r)

	want := []sent{
		{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
		{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 31, 0), At: at(9, 31, 0)},
		{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 35, 0), At: at(9, 35, 0)},
	}
	if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
		t.Errorf("ticks sent (-want, +got):\n%s", d)
	}
	if got := string(r.sender.events[1].Data()); got != "second" {
		t.Errorf("data of the tick after the update = %q, want second", got)
	}
}

// TestDeleteStopsTheTicks removes a source: no tick of it follows, and
// its send still waiting for a slow sink ends.
func TestDeleteStopsTheTicks(t *testing.T) {
	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	r := newReplica(t, clk, "a", DefaultMaxLateness)
	r.sender.hold["gone.sink.example.com"] = true
	r.upsert(newSource("gone"))
	r.upsert(newSource("kept"))
	r.lead()
	stepTo(at(9, 30, 0), clk, r)

	r.scheduler.Remove(types.NamespacedName{Namespace: testNamespace, Name: "gone"})
	waitFor(t, "the deleted source's send to end", func() bool { return len(r.sender.Ended()) == 1 })
	stepTo(at(9, 31, 0), clk, r)

	want := []sent{
		{Replica: "a", Source: sourceAttr("gone"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
		{Replica: "a", Source: sourceAttr("kept"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
		{Replica: "a", Source: sourceAttr("kept"), Tick: at(9, 31, 0), At: at(9, 31, 0)},
	}
	if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
		t.Errorf("ticks sent (-want, +got):\n%s", d)
	}
}

// TestOnlySourcesThatCanSendAreScheduled: a source whose sink has not
// resolved, or one being deleted, has no schedule; one whose sink stops
// resolving loses its schedule.
func TestOnlySourcesThatCanSendAreScheduled(t *testing.T) {
	deleting := newSource("deleting")
	deleting.DeletionTimestamp = &metav1.Time{Time: at(9, 0, 0)}
	tests := []struct {
		name    string
		updates []*sourcesv1.PingSource
	}{
		{name: "sink not resolved", updates: []*sourcesv1.PingSource{newSource("tick", WithoutSink)}},
		{name: "being deleted", updates: []*sourcesv1.PingSource{deleting}},
		{name: "sink no longer resolves", updates: []*sourcesv1.PingSource{newSource("tick"), newSource("tick", WithoutSink)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(at(9, 29, 30))
			r := newReplica(t, clk, "a", DefaultMaxLateness)
			r.lead()
			for _, src := range tc.updates {
				r.upsert(src)
			}
			stepTo(at(9, 30, 0), clk, r)
			if got := r.sender.Sent(); len(got) != 0 {
				t.Errorf("sent %+v, want nothing", got)
			}
		})
	}
}

// TestAnUnschedulableSourceIsRefused: a spec the webhook would refuse
// (stored before it ran) is reported and not scheduled.
func TestAnUnschedulableSourceIsRefused(t *testing.T) {
	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	r := newReplica(t, clk, "a", DefaultMaxLateness)
	for _, src := range []*sourcesv1.PingSource{
		newSource("tick", WithSchedule("60 * * * *", "")),
		newSource("tick", WithSchedule("* * * * *", "Mars/Olympus")),
		newSource("tick", WithDataBase64("", "not base64!")),
	} {
		if err := r.scheduler.Upsert(src); err == nil {
			t.Errorf("Upsert(schedule %q, timezone %q, dataBase64 %q) = nil, want an error", src.Spec.Schedule, src.Spec.Timezone, src.Spec.DataBase64)
		}
	}
	r.lead()
	stepTo(at(9, 30, 0), clk, r)
	if got := r.sender.Sent(); len(got) != 0 {
		t.Errorf("sent %+v, want nothing", got)
	}
}

// TestASlowSinkDelaysNoOtherSource: one source's sink never answers; the
// other sources' ticks, and its own next ones, leave on time.
func TestASlowSinkDelaysNoOtherSource(t *testing.T) {
	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	r := newReplica(t, clk, "a", DefaultMaxLateness)
	r.sender.hold["slow.sink.example.com"] = true
	r.upsert(newSource("fast"))
	r.upsert(newSource("slow"))
	r.lead()
	stepTo(at(9, 30, 0), clk, r)
	stepTo(at(9, 31, 0), clk, r)

	want := []sent{
		{Replica: "a", Source: sourceAttr("fast"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
		{Replica: "a", Source: sourceAttr("slow"), Tick: at(9, 30, 0), At: at(9, 30, 0)},
		{Replica: "a", Source: sourceAttr("fast"), Tick: at(9, 31, 0), At: at(9, 31, 0)},
		{Replica: "a", Source: sourceAttr("slow"), Tick: at(9, 31, 0), At: at(9, 31, 0)},
	}
	if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
		t.Errorf("ticks sent (-want, +got):\n%s", d)
	}
}

// TestALateLoopSendsOnlyTheLatestTick: a process paused for ten minutes
// (the clock jumps) sends the latest tick it missed, once, rather than a
// burst of ten; after a pause longer than the maximum lateness, nothing.
func TestALateLoopSendsOnlyTheLatestTick(t *testing.T) {
	clk := clocktesting.NewFakeClock(at(9, 29, 30))
	r := newReplica(t, clk, "a", 5*time.Minute)
	r.upsert(newSource("tick"))
	r.lead()
	stepTo(at(9, 39, 20), clk, r) // ten ticks due: the latest goes
	stepTo(at(9, 49, 20), clk, r)
	r.upsert(newSource("daily", WithSchedule("0 10 * * *", "")))
	stepTo(at(10, 5, 30), clk, r) // 10:00 is 5.5 minutes old: skipped

	want := []sent{
		{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 39, 0), At: at(9, 39, 20)},
		{Replica: "a", Source: sourceAttr("tick"), Tick: at(9, 49, 0), At: at(9, 49, 20)},
		{Replica: "a", Source: sourceAttr("tick"), Tick: at(10, 5, 0), At: at(10, 5, 30)},
	}
	if d := cmp.Diff(want, r.sender.Sent(), cmp.Comparer(time.Time.Equal)); d != "" {
		t.Errorf("ticks sent (-want, +got):\n%s", d)
	}
}

// TestLastTickIn checks the search both the loop and a catch-up rely on.
func TestLastTickIn(t *testing.T) {
	every5 := sourcesv1.PingSourceSpec{Schedule: "*/5 * * * *"}
	schedule, ferr := every5.CronSchedule()
	if ferr != nil {
		t.Fatal(ferr)
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     time.Time // zero: none
	}{
		{name: "from on a tick: included", from: at(9, 5, 0), to: at(9, 7, 0), want: at(9, 5, 0)},
		{name: "to on a tick: included", from: at(9, 1, 0), to: at(9, 5, 0), want: at(9, 5, 0)},
		{name: "several: the latest", from: at(9, 0, 0), to: at(9, 17, 0), want: at(9, 15, 0)},
		{name: "none between", from: at(9, 1, 0), to: at(9, 4, 59), want: time.Time{}},
		{name: "from after to", from: at(9, 6, 0), to: at(9, 5, 0), want: time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := lastTickIn(schedule, tc.from, tc.to)
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Errorf("lastTickIn(%v, %v) = %v, %t; want %v", tc.from, tc.to, got, ok, tc.want)
			}
		})
	}
}

// TestDrain: at shutdown, sends that finish are waited for; one to a sink
// that does not answer is waited for until the drain's context ends, and
// then ended.
func TestDrain(t *testing.T) {
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprintf("slow sink %t", slow), func(t *testing.T) {
			clk := clocktesting.NewFakeClock(at(9, 29, 30))
			r := newReplica(t, clk, "a", DefaultMaxLateness)
			r.sender.hold["tick.sink.example.com"] = slow
			r.upsert(newSource("tick"))
			r.lead()
			stepTo(at(9, 30, 0), clk, r)

			ctx, timeout := context.WithCancel(context.Background())
			if slow {
				timeout()
			}
			r.scheduler.Drain(ctx) // returns, or the test times out
			timeout()
			if got, want := len(r.sender.Ended()), map[bool]int{false: 0, true: 1}[slow]; got != want {
				t.Errorf("%d sends ended, want %d", got, want)
			}
		})
	}
}
