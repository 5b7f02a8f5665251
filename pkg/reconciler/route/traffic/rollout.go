package traffic

import (
	"encoding/json"
	"fmt"
	"time"

	"flywheel.dev/pkg/apis/serving"
)

// RolloutAnnotation is the key, in the Route's status annotations, of the
// rollout state. Status is where it survives a controller restart without
// being the user's to edit, and where the Service reconciler, which owns
// the Route's metadata, leaves it alone.
const RolloutAnnotation serving.AnnotationKey = serving.GroupName + "/rollout"

// MinRolloutStep is the shortest time between two steps of a rollout.
const MinRolloutStep = time.Second

// rolloutSteps is how many steps a rollout takes, unless MinRolloutStep
// makes them fewer.
const rolloutSteps = 10

// RolloutState is what a Route records of each target that follows a
// Configuration while it has a rollout duration: the Revision the target
// sends traffic to and, while traffic is moving there from older ones,
// where it came from and since when.
type RolloutState struct {
	Configurations []ConfigurationRollout `json:"configurations,omitempty"`
}

// ConfigurationRollout is the state of one target that follows a
// Configuration, known by the Configuration and the target's tag.
type ConfigurationRollout struct {
	ConfigurationName string `json:"configurationName"`
	Tag               string `json:"tag,omitempty"`
	// Percent is the target's share of the Route.
	Percent int64 `json:"percent"`
	// RevisionName is the Revision the target's traffic goes to, or is
	// moving to.
	RevisionName string `json:"revisionName"`
	// From is the split of the target's traffic among older Revisions
	// when the move began, oldest first; empty when no move is under way.
	From []RevisionShare `json:"from,omitempty"`
	// StartTime is when the move began.
	StartTime time.Time `json:"startTime,omitzero"`
}

// RevisionShare is a Revision's part of a target's traffic.
type RevisionShare struct {
	RevisionName string `json:"revisionName"`
	Percent      int64  `json:"percent"`
}

// ParseRolloutState reads the state as RolloutState.Encode wrote it. An
// empty string is no state.
func ParseRolloutState(s string) (*RolloutState, error) {
	if s == "" {
		return nil, nil
	}
	state := &RolloutState{}
	if err := json.Unmarshal([]byte(s), state); err != nil {
		return nil, fmt.Errorf("parsing the rollout state %q: %w", s, err)
	}
	return state, nil
}

// Encode returns the state as it is recorded.
func (s *RolloutState) Encode() string {
	b, err := json.Marshal(s)
	if err != nil {
		// Plain strings, numbers and times always marshal.
		panic(err)
	}
	return string(b)
}

// RolloutInput is what a rollout step is decided from.
type RolloutInput struct {
	// Previous is the state recorded at the last step; nil if none.
	Previous *RolloutState
	// Targets are the Route's targets as resolved: a target that follows
	// a Configuration names its latest ready Revision.
	Targets []Target
	// Duration is the Route's rollout duration; 0 moves traffic at once.
	Duration time.Duration
	// Ready reports whether an older Revision can still take traffic; one
	// that cannot gives its share to the newest at once.
	Ready func(revisionName string) bool
}

// RolloutResult is the outcome of a rollout step.
type RolloutResult struct {
	// State is what to record; nil when there is nothing to record.
	State *RolloutState
	// Targets are the input's targets with each target that follows a
	// Configuration split between the Revisions it is moving from and the
	// one it is moving to. Only the newest keeps the target's tag: the
	// tag's host goes to the latest ready Revision, as without a rollout.
	Targets []Target
	// NextStep is how long until the split changes next; 0 when no move
	// is under way.
	NextStep time.Duration
}

// Rollout decides the split of the Route's traffic at now. When a target
// that follows a Configuration finds a newer latest ready Revision than
// the one recorded, its traffic moves there from the split in force at
// that moment in equal steps, one every tenth of Duration (at least
// MinRolloutStep apart), taking from the oldest Revision first. A newer
// Revision still, arriving during a move, starts a new move from the
// split of that moment.
//
// A Route without a rollout duration, a new Route, a new target and a
// target whose percent changed move at once: there is no earlier split to
// move from, or the user changed the split by hand.
func Rollout(in RolloutInput, now time.Time) RolloutResult {
	if in.Duration <= 0 {
		return RolloutResult{Targets: in.Targets}
	}
	ready := in.Ready
	if ready == nil {
		ready = func(string) bool { return true }
	}
	previous := map[rolloutKey]*ConfigurationRollout{}
	if in.Previous != nil {
		for i := range in.Previous.Configurations {
			c := &in.Previous.Configurations[i]
			previous[rolloutKey{c.ConfigurationName, c.Tag}] = c
		}
	}

	out := RolloutResult{State: &RolloutState{}}
	for _, t := range in.Targets {
		if !t.LatestRevision || t.ConfigurationName == "" {
			out.Targets = append(out.Targets, t)
			continue
		}
		c := nextRollout(previous[rolloutKey{t.ConfigurationName, t.Tag}], t, in.Duration, ready, now)
		shares, next := c.splitAt(now, in.Duration)
		if next == 0 {
			// The move is over: only the newest Revision is left to record.
			c.From, c.StartTime = nil, time.Time{}
		}
		if next > 0 && (out.NextStep == 0 || next < out.NextStep) {
			out.NextStep = next
		}
		out.State.Configurations = append(out.State.Configurations, c)
		for _, s := range shares {
			share := t
			share.RevisionName, share.Percent = s.RevisionName, s.Percent
			if s.RevisionName != c.RevisionName {
				share.Tag = ""
			}
			out.Targets = append(out.Targets, share)
		}
	}
	if len(out.State.Configurations) == 0 {
		out.State = nil
	}
	return out
}

type rolloutKey struct{ configuration, tag string }

// nextRollout returns the state of target t at now, given what was
// recorded before.
func nextRollout(prev *ConfigurationRollout, t Target, duration time.Duration, ready func(string) bool, now time.Time) ConfigurationRollout {
	steady := ConfigurationRollout{
		ConfigurationName: t.ConfigurationName,
		Tag:               t.Tag,
		Percent:           t.Percent,
		RevisionName:      t.RevisionName,
	}
	if prev == nil || prev.Percent != t.Percent || t.Percent == 0 {
		return steady
	}
	c := *prev
	c.From = readyShares(prev.From, ready)
	if c.RevisionName == t.RevisionName {
		return c
	}

	// A newer Revision: traffic moves to it from the split of this moment,
	// as far as the Revisions of that split can still serve.
	current, _ := c.splitAt(now, duration)
	var from []RevisionShare
	for _, s := range readyShares(current, ready) {
		if s.RevisionName != t.RevisionName && s.Percent > 0 {
			from = append(from, s)
		}
	}
	if len(from) == 0 {
		return steady
	}
	steady.From, steady.StartTime = from, now
	return steady
}

func readyShares(shares []RevisionShare, ready func(string) bool) []RevisionShare {
	var out []RevisionShare
	for _, s := range shares {
		if ready(s.RevisionName) {
			out = append(out, s)
		}
	}
	return out
}

// splitAt returns the split of the target's traffic at now, oldest
// Revision first and the newest last, and how long until it next changes
// (0 when the move is over or there is none).
func (c *ConfigurationRollout) splitAt(now time.Time, duration time.Duration) ([]RevisionShare, time.Duration) {
	newest := RevisionShare{RevisionName: c.RevisionName, Percent: c.Percent}
	if len(c.From) == 0 {
		return []RevisionShare{newest}, 0
	}
	step := max(duration/rolloutSteps, MinRolloutStep)
	steps := int64((duration + step - 1) / step)
	elapsed := max(now.Sub(c.StartTime), 0)
	done := int64(elapsed / step)
	if done >= steps {
		return []RevisionShare{newest}, 0
	}

	// After done of steps steps, that share of the target has moved; it
	// comes off the oldest Revisions first, so each older Revision drains
	// completely before the next starts to.
	moved := c.Percent * done / steps
	var shares []RevisionShare
	var left int64
	for _, s := range c.From {
		take := min(s.Percent, moved)
		moved -= take
		if s.Percent -= take; s.Percent > 0 {
			shares = append(shares, s)
			left += s.Percent
		}
	}
	newest.Percent = max(c.Percent-left, 0)
	next := c.StartTime.Add(time.Duration(done+1) * step).Sub(now)
	return append(shares, newest), next
}
