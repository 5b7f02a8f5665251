package gc

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	apisconfig "flywheel.dev/pkg/apis/config"
	"flywheel.dev/pkg/apis/serving"
	v1 "flywheel.dev/pkg/apis/serving/v1"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

var now = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

// idle is a Revision created age ago that last served idle ago.
func idle(name string, age, idleFor time.Duration, opts ...fwtesting.RevisionOption) *v1.Revision {
	return fwtesting.Revision(name, "demo", append([]fwtesting.RevisionOption{
		fwtesting.WithRevisionCreated(now.Add(-age)),
		fwtesting.WithRoutingState(serving.RoutingStateReserve, now.Add(-idleFor)),
	}, opts...)...)
}

func bounds(mutate func(*apisconfig.GC)) *apisconfig.GC {
	g := apisconfig.DefaultGC()
	mutate(g)
	return g
}

// eager deletes every non-active Revision at once.
var eager = bounds(func(g *apisconfig.GC) {
	g.MinNonActiveRevisions, g.RetainSinceCreateTime, g.RetainSinceLastActiveTime = 0, 0, 0
})

func TestCollect(t *testing.T) {
	const day = 24 * time.Hour
	cfg := fwtesting.Configuration("hello", "demo", fwtesting.WithConfigGeneration(9),
		fwtesting.WithLatestCreated("hello-00009"), fwtesting.WithLatestReady("hello-00008"))
	// madeFor labels a Revision with the Configuration generation it was
	// made for.
	madeFor := func(generation string) fwtesting.RevisionOption {
		return func(rev *v1.Revision) { rev.Labels[serving.ConfigurationGenerationLabel.String()] = generation }
	}

	tests := []struct {
		name        string
		revs        []*v1.Revision
		bounds      *apisconfig.GC
		wantDoomed  []string
		wantRecheck time.Duration
	}{{
		name: "active Revisions are never collected",
		revs: []*v1.Revision{
			fwtesting.Revision("routed", "demo", fwtesting.WithRevisionCreated(now.Add(-30*day)),
				fwtesting.WithRoutingState(serving.RoutingStateActive, now.Add(-30*day))),
			idle("named-by-a-route", 30*day, 30*day, fwtesting.WithRevisionRoutes("other")),
			idle("hello-00009", 30*day, 30*day),
			idle("hello-00008", 30*day, 30*day),
			idle("pinned", 30*day, 30*day, func(rev *v1.Revision) {
				rev.Annotations[NoGCAnnotation.String()] = "true"
			}),
			// The status not yet updated: made for this generation, or
			// for one the lister has not shown yet.
			idle("made-for-this-generation", 30*day, 30*day, madeFor("9")),
			idle("made-for-a-newer-generation", 30*day, 30*day, madeFor("10")),
		},
		bounds: eager,
	}, {
		// Times are kept to the second: two Revisions made and retired
		// in the same second are told apart by their generations.
		name: "max-non-active-revisions among Revisions of the same second: the later generation is kept",
		revs: []*v1.Revision{
			idle("hello-00004", time.Hour, time.Minute, madeFor("4")),
			idle("hello-00003", time.Hour, time.Minute, madeFor("3")),
		},
		bounds: bounds(func(g *apisconfig.GC) {
			g.MinNonActiveRevisions, g.MaxNonActiveRevisions = 0, 1
			g.RetainSinceCreateTime, g.RetainSinceLastActiveTime = apisconfig.GCDisabled, apisconfig.GCDisabled
		}),
		wantDoomed: []string{"hello-00003"},
	}, {
		name: "a Revision of an earlier generation is not protected by its label",
		revs: []*v1.Revision{
			idle("made-for-an-earlier-generation", 30*day, 30*day, madeFor("7")),
		},
		bounds:     eager,
		wantDoomed: []string{"made-for-an-earlier-generation"},
	}, {
		name: "non-active and past both times: collected, least recently active first",
		revs: []*v1.Revision{
			idle("a", 3*day, day),
			idle("b", 3*day, 2*day),
			idle("being-deleted", 3*day, 3*day, func(rev *v1.Revision) { rev.DeletionTimestamp = &rev.CreationTimestamp }),
		},
		bounds:     bounds(func(g *apisconfig.GC) { g.MinNonActiveRevisions = 0 }),
		wantDoomed: []string{"b", "a"},
	}, {
		name: "min-non-active-revisions: the most recently active are kept whatever their age",
		revs: []*v1.Revision{
			idle("a", 30*day, 10*day), idle("b", 30*day, 20*day), idle("c", 30*day, 5*day),
		},
		bounds:     bounds(func(g *apisconfig.GC) { g.MinNonActiveRevisions = 2 }),
		wantDoomed: []string{"b"},
	}, {
		name: "recently active: kept, looked at again when it has been idle long enough",
		revs: []*v1.Revision{
			idle("old-but-recent", 30*day, time.Hour),
		},
		bounds:      bounds(func(g *apisconfig.GC) { g.MinNonActiveRevisions = 0 }),
		wantRecheck: 14 * time.Hour,
	}, {
		name: "recently created: kept until retain-since-create-time has passed too",
		revs: []*v1.Revision{
			idle("young", 40*time.Hour, 20*time.Hour),
		},
		bounds:      bounds(func(g *apisconfig.GC) { g.MinNonActiveRevisions = 0 }),
		wantRecheck: 8 * time.Hour,
	}, {
		name: "retain-since-create-time disabled: idle time alone decides",
		revs: []*v1.Revision{
			idle("young", time.Hour, 20*time.Hour),
		},
		bounds: bounds(func(g *apisconfig.GC) {
			g.MinNonActiveRevisions, g.RetainSinceCreateTime = 0, apisconfig.GCDisabled
		}),
		wantDoomed: []string{"young"},
	}, {
		name: "a Revision never routed counts as last active when it was made",
		revs: []*v1.Revision{
			fwtesting.Revision("never-routed", "demo", fwtesting.WithRevisionCreated(now.Add(-3*day)),
				fwtesting.WithRoutingState(serving.RoutingStatePending, now.Add(-3*day))),
			fwtesting.Revision("unlabelled", "demo", fwtesting.WithRevisionCreated(now.Add(-3*day))),
		},
		bounds:     bounds(func(g *apisconfig.GC) { g.MinNonActiveRevisions = 0 }),
		wantDoomed: []string{"never-routed", "unlabelled"},
	}, {
		name: "both times disabled: age deletes nothing",
		revs: []*v1.Revision{idle("a", 300*day, 300*day), idle("b", 300*day, 300*day)},
		bounds: bounds(func(g *apisconfig.GC) {
			g.MinNonActiveRevisions = 0
			g.RetainSinceCreateTime, g.RetainSinceLastActiveTime = apisconfig.GCDisabled, apisconfig.GCDisabled
		}),
	}, {
		name: "max-non-active-revisions: beyond it the least recently active go, however young",
		revs: []*v1.Revision{
			idle("a", time.Hour, time.Minute), idle("b", time.Hour, 3*time.Minute),
			idle("c", time.Hour, 2*time.Minute), idle("d", time.Hour, 4*time.Minute),
		},
		bounds:      bounds(func(g *apisconfig.GC) { g.MinNonActiveRevisions, g.MaxNonActiveRevisions = 1, 2 }),
		wantDoomed:  []string{"d", "b"},
		wantRecheck: 47 * time.Hour, // when c, the one kept beyond the minimum, is 48h old
	}, {
		name: "max-non-active-revisions disabled: no cap",
		revs: []*v1.Revision{
			idle("a", time.Hour, time.Minute), idle("b", time.Hour, 3*time.Minute), idle("c", time.Hour, 2*time.Minute),
		},
		bounds: bounds(func(g *apisconfig.GC) {
			g.MinNonActiveRevisions, g.MaxNonActiveRevisions = 0, apisconfig.GCDisabled
			g.RetainSinceCreateTime, g.RetainSinceLastActiveTime = apisconfig.GCDisabled, apisconfig.GCDisabled
		}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doomed, recheck := Collect(cfg, tt.revs, tt.bounds, now)
			var names []string
			for _, rev := range doomed {
				names = append(names, rev.Name)
			}
			if diff := cmp.Diff(tt.wantDoomed, names); diff != "" {
				t.Errorf("collected (-want, +got):\n%s", diff)
			}
			if recheck != tt.wantRecheck {
				t.Errorf("recheck in %v, want %v", recheck, tt.wantRecheck)
			}
		})
	}
}
