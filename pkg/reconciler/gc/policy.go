package gc

import (
	"cmp"
	"slices"
	"time"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
)

// NoGCAnnotation set to "true" on a Revision keeps it from garbage collection,
// as in Knative.
const NoGCAnnotation serving.AnnotationKey = serving.GroupName + "/no-gc"

// Collect returns which of a Configuration's Revisions to delete at now
// under the bounds of config-gc, least recently active first, and how
// long until one of the Revisions kept could become collectable by age (0
// when none can). It does no I/O.
func Collect(cfg *v1.Configuration, revs []*v1.Revision, bounds *apisconfig.GC, now time.Time) (doomed []*v1.Revision, recheck time.Duration) {
	var idle []*v1.Revision
	for _, rev := range revs {
		if rev.DeletionTimestamp == nil && !active(cfg, rev) {
			idle = append(idle, rev)
		}
	}
	// The most recently active first; then by name, so that the choice
	// is the same on every pass.
	slices.SortFunc(idle, func(a, b *v1.Revision) int {
		return cmp.Or(compareActivity(b, a), cmp.Compare(a.Name, b.Name))
	})

	kept := min(int64(len(idle)), bounds.MinNonActiveRevisions)
	var young []*v1.Revision
	for _, rev := range idle[kept:] {
		if due := staleAt(rev, bounds); due.IsZero() || due.After(now) {
			young = append(young, rev)
		} else {
			doomed = append(doomed, rev)
		}
	}
	if bounds.MaxNonActiveRevisions != apisconfig.GCDisabled {
		if over := kept + int64(len(young)) - bounds.MaxNonActiveRevisions; over > 0 {
			doomed = append(doomed, young[int64(len(young))-over:]...)
			young = young[:int64(len(young))-over]
		}
	}
	for _, rev := range young {
		if due := staleAt(rev, bounds); !due.IsZero() {
			if d := due.Sub(now); recheck == 0 || d < recheck {
				recheck = d
			}
		}
	}
	slices.SortFunc(doomed, func(a, b *v1.Revision) int {
		return cmp.Or(compareActivity(a, b), cmp.Compare(a.Name, b.Name))
	})
	return doomed, recheck
}

// compareActivity orders a before b when a was active less recently: by
// when each was last active, then when it was made, both to the second
// only, then by the Configuration generation it was made for, which
// orders Revisions retired or made in the same second as they were made.
func compareActivity(a, b *v1.Revision) int {
	return cmp.Or(
		lastActive(a).Compare(lastActive(b)),
		a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
		cmp.Compare(a.ConfigurationGeneration(), b.ConfigurationGeneration()))
}

// active reports whether rev must be kept whatever the bounds: a Route
// serves it, its Configuration would send traffic to it or has just made
// it, or its owner said so.
//
// A Revision made for the Configuration's current generation is kept even
// before the status names it latest created: the Revision's creation
// wakes this reconciler, often before the Configuration's status catches
// up, and deleting it then would have the Configuration make it afresh,
// losing its pods.
func active(cfg *v1.Configuration, rev *v1.Revision) bool {
	routes, _ := serving.RoutesAnnotation.Get(rev.Annotations)
	noGC, _ := NoGCAnnotation.Get(rev.Annotations)
	return rev.RoutingState() == serving.RoutingStateActive ||
		routes != "" ||
		noGC == "true" ||
		rev.ConfigurationGeneration() >= cfg.Generation ||
		rev.Name == cfg.Status.LatestCreatedRevisionName ||
		rev.Name == cfg.Status.LatestReadyRevisionName
}

// lastActive is when rev last took traffic: when its routing state last
// changed (to reserve, as it is not active now, or to pending when it was
// made), or, without a readable stamp, when it was created.
func lastActive(rev *v1.Revision) time.Time {
	if s, ok := serving.RoutingStateModifiedAnnotation.Get(rev.Annotations); ok {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
	}
	return rev.CreationTimestamp.Time
}

// staleAt is when rev becomes old enough to delete under the time bounds:
// both the time since it was created and the time since it was last active
// must have passed, each unless disabled. It is zero when both are
// disabled, as then age never deletes a Revision.
func staleAt(rev *v1.Revision, bounds *apisconfig.GC) time.Time {
	var at time.Time
	if d := bounds.RetainSinceCreateTime; d != apisconfig.GCDisabled {
		at = rev.CreationTimestamp.Add(d)
	}
	if d := bounds.RetainSinceLastActiveTime; d != apisconfig.GCDisabled {
		if t := lastActive(rev).Add(d); t.After(at) {
			at = t
		}
	}
	return at
}
