package scaling

import (
	"math"
	"time"
)

// Spec is what one Revision's decider works with, from its
// autoscaling.knative.dev annotations over config-autoscaler.
type Spec struct {
	// TargetPerPod is the load (concurrency or requests per second) one
	// pod should carry: the target times the target utilization.
	TargetPerPod float64
	// TotalPerPod is the load one pod can carry: the target without the
	// utilization headroom. Burst capacity is counted against it.
	TotalPerPod float64
	// TargetBurstCapacity is the spare capacity, in the metric's units,
	// below which the activator stays in the path; -1 keeps it there
	// always.
	TargetBurstCapacity float64
	// PanicThreshold is the ratio of the load over the panic window to
	// what the ready pods should carry at which panic mode begins: 2 is
	// 200%.
	PanicThreshold float64
	// MaxScaleUpRate and MaxScaleDownRate bound one decision: at most
	// rate × ready pods up, at least ready pods ÷ rate down.
	MaxScaleUpRate, MaxScaleDownRate float64
	// StableWindow is the stable window; panic mode ends only after a
	// whole one without the panic threshold being crossed.
	StableWindow time.Duration
	// PanicWindow is the window Load.Panic is averaged over; the decider
	// itself does not read it.
	PanicWindow time.Duration
	// ScaleDownDelay holds the largest decision of that long ago before
	// scaling down to a smaller one.
	ScaleDownDelay time.Duration
	// MinScale and MaxScale bound the pods; MaxScale 0 means no bound.
	// MinScale applies only while a Route sends the Revision traffic
	// (Reachable).
	MinScale, MaxScale int32
	// Reachable says a Route sends the Revision traffic.
	Reachable bool
	// ActivationScale is the fewest pods a Revision scales up to from
	// zero (at least 1).
	ActivationScale int32
	// EnableScaleToZero allows zero pods.
	EnableScaleToZero bool
	// ScaleToZeroGracePeriod is how long the last pod is kept once the
	// decision is zero, with the activator put in the path first, so
	// that no request is lost while endpoints switch.
	ScaleToZeroGracePeriod time.Duration
}

// Load is what the collector measured for a Revision at one moment.
type Load struct {
	// Stable and Panic are the average load over the stable window and
	// over the panic window, sidecars and activator together.
	Stable, Panic float64
	// ReadyPods is how many pods are ready.
	ReadyPods int32
	// Waiting is how many requests the activator holds now. At zero pods
	// they are the demand the windows have not seen yet: a request that
	// arrives for a Revision at zero must bring a pod at once, not once
	// its wait shows in an average.
	Waiting int32
}

// Decision is the decider's answer.
type Decision struct {
	// DesiredPods is how many pods the Revision wants.
	DesiredPods int32
	// ExcessBurstCapacity is the capacity left beyond the target burst
	// capacity, in the metric's units, rounded down; negative means the
	// activator should be in the path.
	ExcessBurstCapacity int32
	// BelowBurstCapacity says the ready pods' spare capacity fell short
	// of the target burst capacity within the last stable window. The
	// activator stays in the path until it has been covered for a whole
	// one, so that a load at the edge does not switch the Revision's
	// endpoints with every second's figure.
	BelowBurstCapacity bool
	// Panicking says panic mode is on.
	Panicking bool
	// ScalingToZero says the decision is zero but the last pod is kept
	// for the grace period; the activator must be in the path.
	ScalingToZero bool
}

// ActivatorInPath reports whether requests should go through the
// activator: too little spare capacity now or lately, or on the way to
// zero.
func (d Decision) ActivatorInPath() bool {
	return d.ExcessBurstCapacity < 0 || d.BelowBurstCapacity || d.ScalingToZero
}

// Decider decides for one Revision. It keeps what the rules need to
// remember (when panic began, recent decisions, when zero was first
// wanted) and is not safe for concurrent use.
type Decider struct {
	spec Spec
	// panicSince is when the panic threshold was last crossed while
	// panicking; zero when not panicking.
	panicSince time.Time
	// panicPods is the most pods wanted since panic began: panic mode
	// never scales down.
	panicPods int32
	// recent are the decisions of the last ScaleDownDelay, oldest first.
	recent []timed
	// zeroSince is when the decision first became zero; zero when it
	// is not.
	zeroSince time.Time
	// shortSince is when ready pods last had less spare capacity than
	// the target burst capacity; zero when they never had.
	shortSince time.Time
}

type timed struct {
	at   time.Time
	pods int32
}

// NewDecider returns a Decider for spec.
func NewDecider(spec Spec) *Decider { return &Decider{spec: spec} }

// Update replaces the spec, keeping what the decider remembers: a
// changed annotation must not end a panic or forget a delay.
func (d *Decider) Update(spec Spec) { d.spec = spec }

// Decide returns the decision for load at now. Calls must come in time
// order.
func (d *Decider) Decide(now time.Time, load Load) Decision {
	s := d.spec
	// Rates scale from at least one pod, so that a Revision at zero can
	// grow.
	ready := float64(max(load.ReadyPods, 1))
	stableWant := podsFor(load.Stable, s.TargetPerPod)
	panicWant := podsFor(load.Panic, s.TargetPerPod)
	if s.MaxScaleUpRate > 0 {
		up := int32(math.Ceil(s.MaxScaleUpRate * ready))
		stableWant, panicWant = min(stableWant, up), min(panicWant, up)
	}
	if s.MaxScaleDownRate > 0 {
		down := int32(math.Floor(ready / s.MaxScaleDownRate))
		stableWant, panicWant = max(stableWant, down), max(panicWant, down)
	}

	overThreshold := s.PanicThreshold > 0 && load.Panic/(ready*s.TargetPerPod) >= s.PanicThreshold
	switch {
	case overThreshold && d.panicSince.IsZero():
		d.panicPods = load.ReadyPods
		d.panicSince = now
	case overThreshold:
		d.panicSince = now // a panic lasts a stable window past its last crossing
	case !d.panicSince.IsZero() && now.Sub(d.panicSince) >= s.StableWindow:
		d.panicSince, d.panicPods = time.Time{}, 0
	}

	want := stableWant
	panicking := !d.panicSince.IsZero()
	if panicking {
		want = max(panicWant, d.panicPods)
		d.panicPods = want
	}
	if load.ReadyPods == 0 && load.Waiting > 0 {
		want = max(want, 1)
	}
	want = d.delayScaleDown(now, want)
	want = d.bound(want)

	excess := ExcessBurstCapacity(s, load)
	// Only the load can make a shortfall worth holding on to. With no
	// pod ready the activator is in the path for that reason; with pods
	// still to come (fewer ready than wanted, as a new Revision's start
	// one by one) the shortfall ends when they are ready; and -1 and 0
	// have no capacity to fall short of.
	if excess < 0 && load.ReadyPods > 0 && load.ReadyPods >= want && s.TargetBurstCapacity > 0 {
		d.shortSince = now
	}
	dec := Decision{
		DesiredPods: want, Panicking: panicking, ExcessBurstCapacity: excess,
		BelowBurstCapacity: s.TargetBurstCapacity > 0 && !d.shortSince.IsZero() && now.Sub(d.shortSince) < s.StableWindow,
	}
	switch {
	case want > 0:
		d.zeroSince = time.Time{}
	case load.ReadyPods == 0:
		// Already at zero: nothing to wait for.
	default:
		if d.zeroSince.IsZero() {
			d.zeroSince = now
		}
		if now.Sub(d.zeroSince) < s.ScaleToZeroGracePeriod {
			dec.DesiredPods, dec.ScalingToZero = 1, true
		}
	}
	return dec
}

// podsFor returns the pods that carry load at target each, rounded up.
func podsFor(load, target float64) int32 {
	if target <= 0 || load <= 0 {
		return 0
	}
	return int32(math.Ceil(load / target))
}

// delayScaleDown returns the most pods wanted over the last
// ScaleDownDelay, want included, and remembers want.
func (d *Decider) delayScaleDown(now time.Time, want int32) int32 {
	if d.spec.ScaleDownDelay <= 0 {
		d.recent = nil
		return want
	}
	cutoff := now.Add(-d.spec.ScaleDownDelay)
	i := 0
	for i < len(d.recent) && !d.recent[i].at.After(cutoff) {
		i++
	}
	d.recent = append(d.recent[i:], timed{at: now, pods: want})
	for _, r := range d.recent {
		want = max(want, r.pods)
	}
	return want
}

// bound applies min, max and activation scale, and keeps a pod when
// scale to zero is off.
func (d *Decider) bound(want int32) int32 {
	s := d.spec
	floor := int32(0)
	if s.Reachable {
		floor = s.MinScale
	}
	if !s.EnableScaleToZero {
		floor = max(floor, 1)
	}
	want = max(want, floor)
	if want > 0 {
		want = max(want, s.ActivationScale)
	}
	if s.MaxScale > 0 {
		want = min(want, s.MaxScale)
	}
	return want
}

// ExcessBurstCapacity is what the ready pods can carry beyond the load
// over the panic window and the target burst capacity, rounded down; -1
// when the activator is always wanted. Negative puts the activator in
// the path.
func ExcessBurstCapacity(s Spec, load Load) int32 {
	switch tbc := s.TargetBurstCapacity; {
	case tbc < 0:
		return -1
	case tbc == 0:
		// No burst capacity asked for: the activator only while there
		// is no pod at all.
		if load.ReadyPods == 0 {
			return -1
		}
		return 0
	default:
		return int32(math.Floor(float64(load.ReadyPods)*s.TotalPerPod - tbc - load.Panic))
	}
}
