package traffic

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

var start = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

// latest is a target that follows Configuration hello at revision rev.
func latest(rev string, percent int64) Target {
	return Target{RevisionName: rev, ConfigurationName: "hello", LatestRevision: true, Percent: percent}
}

// split is what a target of Configuration hello sends to each Revision.
type split map[string]int64

func splitOf(targets []Target) split {
	s := split{}
	for _, t := range targets {
		if t.ConfigurationName == "hello" {
			s[t.RevisionName] += t.Percent
		}
	}
	return s
}

// rollout runs Rollout the way the reconciler does, feeding each result's
// state to the next call, against a fake clock.
type rollout struct {
	t        *testing.T
	clock    *clocktesting.FakeClock
	state    *RolloutState
	duration time.Duration
	ready    func(string) bool
}

func (r *rollout) step(targets ...Target) RolloutResult {
	r.t.Helper()
	// The state goes through its encoding, as it does through the Route's
	// status between reconciliations.
	var prev *RolloutState
	if r.state != nil {
		var err error
		if prev, err = ParseRolloutState(r.state.Encode()); err != nil {
			r.t.Fatal(err)
		}
	}
	res := Rollout(RolloutInput{Previous: prev, Targets: targets, Duration: r.duration, Ready: r.ready}, r.clock.Now())
	r.state = res.State
	return res
}

func (r *rollout) expect(res RolloutResult, want split, wantNext time.Duration) {
	r.t.Helper()
	if diff := cmp.Diff(want, splitOf(res.Targets)); diff != "" {
		r.t.Errorf("at %v: split (-want, +got):\n%s", r.clock.Since(start), diff)
	}
	if res.NextStep != wantNext {
		r.t.Errorf("at %v: next step in %v, want %v", r.clock.Since(start), res.NextStep, wantNext)
	}
}

func TestRolloutWithoutDurationMovesAtOnce(t *testing.T) {
	r := &rollout{t: t, clock: clocktesting.NewFakeClock(start)}
	r.expect(r.step(latest("hello-00001", 100)), split{"hello-00001": 100}, 0)
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00002": 100}, 0)
	if r.state != nil {
		t.Errorf("state = %+v, want none recorded without a duration", r.state)
	}
}

func TestRolloutMovesInTenSteps(t *testing.T) {
	r := &rollout{t: t, clock: clocktesting.NewFakeClock(start), duration: 100 * time.Second}
	// A new Route has nothing to move from.
	r.expect(r.step(latest("hello-00001", 100)), split{"hello-00001": 100}, 0)
	r.clock.Step(time.Hour)
	r.expect(r.step(latest("hello-00001", 100)), split{"hello-00001": 100}, 0)

	// hello-00002 becomes ready: the move starts, one step every 10s.
	began := r.clock.Now()
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 100, "hello-00002": 0}, 10*time.Second)
	r.clock.Step(10 * time.Second)
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 90, "hello-00002": 10}, 10*time.Second)
	// A reconciliation between steps changes nothing and wakes at the next.
	r.clock.Step(15 * time.Second)
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 80, "hello-00002": 20}, 5*time.Second)
	r.clock.SetTime(began.Add(99 * time.Second))
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 10, "hello-00002": 90}, time.Second)
	r.clock.SetTime(began.Add(100 * time.Second))
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00002": 100}, 0)

	want := &RolloutState{Configurations: []ConfigurationRollout{{ConfigurationName: "hello", Percent: 100, RevisionName: "hello-00002"}}}
	if diff := cmp.Diff(want, r.state); diff != "" {
		t.Errorf("state after the move (-want, +got):\n%s", diff)
	}
}

func TestRolloutStepsAreAtLeastASecondApart(t *testing.T) {
	r := &rollout{t: t, clock: clocktesting.NewFakeClock(start), duration: 2 * time.Second}
	r.step(latest("hello-00001", 100))
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 100, "hello-00002": 0}, time.Second)
	r.clock.Step(time.Second)
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 50, "hello-00002": 50}, time.Second)
	r.clock.Step(time.Second)
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00002": 100}, 0)
}

func TestRolloutNewerRevisionDuringAMove(t *testing.T) {
	r := &rollout{t: t, clock: clocktesting.NewFakeClock(start), duration: 10 * time.Second}
	r.step(latest("hello-00001", 100))
	r.step(latest("hello-00002", 100))
	r.clock.Step(3 * time.Second)
	r.expect(r.step(latest("hello-00002", 100)), split{"hello-00001": 70, "hello-00002": 30}, time.Second)

	// hello-00003 arrives: the split of this moment moves to it, the
	// oldest Revision first.
	r.expect(r.step(latest("hello-00003", 100)), split{"hello-00001": 70, "hello-00002": 30, "hello-00003": 0}, time.Second)
	r.clock.Step(5 * time.Second)
	r.expect(r.step(latest("hello-00003", 100)), split{"hello-00001": 20, "hello-00002": 30, "hello-00003": 50}, time.Second)
	r.clock.Step(3 * time.Second)
	r.expect(r.step(latest("hello-00003", 100)), split{"hello-00002": 20, "hello-00003": 80}, time.Second)
	r.clock.Step(2 * time.Second)
	r.expect(r.step(latest("hello-00003", 100)), split{"hello-00003": 100}, 0)
}

func TestRolloutOfAPartialTarget(t *testing.T) {
	r := &rollout{t: t, clock: clocktesting.NewFakeClock(start), duration: 10 * time.Second}
	pinned := Target{RevisionName: "hello-00001", Tag: "stable", Percent: 60}
	r.step(pinned, latest("hello-00001", 40))
	r.step(pinned, latest("hello-00002", 40))
	r.clock.Step(5 * time.Second)
	res := r.step(pinned, latest("hello-00002", 40))
	want := []Target{
		pinned,
		{RevisionName: "hello-00001", ConfigurationName: "hello", LatestRevision: true, Percent: 20},
		{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Percent: 20},
	}
	if diff := cmp.Diff(want, res.Targets); diff != "" {
		t.Errorf("targets half way (-want, +got):\n%s", diff)
	}
}

func TestRolloutKeepsTheTagOnTheNewestRevision(t *testing.T) {
	r := &rollout{t: t, clock: clocktesting.NewFakeClock(start), duration: 10 * time.Second}
	tagged := func(rev string) Target { t := latest(rev, 100); t.Tag = "current"; return t }
	r.step(tagged("hello-00001"))
	r.step(tagged("hello-00002"))
	r.clock.Step(4 * time.Second)
	res := r.step(tagged("hello-00002"))
	want := []Target{
		{RevisionName: "hello-00001", ConfigurationName: "hello", LatestRevision: true, Percent: 60},
		{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Percent: 40, Tag: "current"},
	}
	if diff := cmp.Diff(want, res.Targets); diff != "" {
		t.Errorf("targets (-want, +got):\n%s", diff)
	}
}

func TestRolloutEndsAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *rollout) []Target
		want   split
	}{{
		name: "the target's percent changed: the user set a new split",
		change: func(*rollout) []Target {
			return []Target{latest("hello-00002", 50), {RevisionName: "other", Percent: 50}}
		},
		want: split{"hello-00002": 50},
	}, {
		name: "the duration was removed",
		change: func(r *rollout) []Target {
			r.duration = 0
			return []Target{latest("hello-00002", 100)}
		},
		want: split{"hello-00002": 100},
	}, {
		name: "the older Revision can no longer serve",
		change: func(r *rollout) []Target {
			r.ready = func(name string) bool { return name != "hello-00001" }
			return []Target{latest("hello-00002", 100)}
		},
		want: split{"hello-00002": 100},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &rollout{t: t, clock: clocktesting.NewFakeClock(start), duration: 10 * time.Second}
			r.step(latest("hello-00001", 100))
			r.step(latest("hello-00002", 100))
			r.clock.Step(3 * time.Second)
			r.expect(r.step(tt.change(r)...), tt.want, 0)
		})
	}
}

func TestRolloutStateSurvivesEncoding(t *testing.T) {
	state := &RolloutState{Configurations: []ConfigurationRollout{{
		ConfigurationName: "hello", Tag: "current", Percent: 40, RevisionName: "hello-00002",
		From:      []RevisionShare{{RevisionName: "hello-00001", Percent: 40}},
		StartTime: start,
	}}}
	got, err := ParseRolloutState(state.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(state, got); diff != "" {
		t.Errorf("round trip (-want, +got):\n%s", diff)
	}
	if got, err := ParseRolloutState(""); got != nil || err != nil {
		t.Errorf(`ParseRolloutState("") = %v, %v; want no state`, got, err)
	}
	if _, err := ParseRolloutState("{not json"); err == nil {
		t.Error("ParseRolloutState of garbage: no error")
	}
}
