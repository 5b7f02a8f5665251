package traffic

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	v1 "flywheel.dev/pkg/apis/serving/v1"
	fwtesting "flywheel.dev/pkg/reconciler/testing"
)

const ns = "demo"

func byRevision(name string, percent int64, tag string) v1.TrafficTarget {
	return v1.TrafficTarget{RevisionName: name, Percent: ptr.To(percent), Tag: tag, LatestRevision: ptr.To(false)}
}

func byConfiguration(name string, percent int64, tag string) v1.TrafficTarget {
	return v1.TrafficTarget{ConfigurationName: name, Percent: ptr.To(percent), Tag: tag, LatestRevision: ptr.To(true)}
}

func TestResolve(t *testing.T) {
	ready := func(name string) *v1.Revision { return fwtesting.Revision(name, ns, fwtesting.WithRevisionReady) }
	objects := []runtime.Object{
		fwtesting.Configuration("hello", ns, fwtesting.WithConfigReady("hello-00002")),
		fwtesting.Configuration("new", ns, fwtesting.WithConfigInitConditions, fwtesting.WithLatestCreated("new-00001")),
		fwtesting.Configuration("broken", ns, fwtesting.WithConfigInitConditions,
			fwtesting.WithLatestCreated("broken-00001"), fwtesting.WithLatestCreatedFailed("broken-00001", "exit 1")),
		fwtesting.Configuration("stale", ns, fwtesting.WithConfigReady("stale-00001")),
		ready("hello-00001"), ready("hello-00002"),
		fwtesting.Revision("pending", ns, fwtesting.WithRevisionPending),
		fwtesting.Revision("crashed", ns, fwtesting.WithRevisionFailed("ExitCode", "exit 1")),
	}
	ls := fwtesting.NewListers(objects)
	configs := ls.GetConfigurationLister().Configurations(ns)
	revs := ls.GetRevisionLister().Revisions(ns)

	tests := []struct {
		name    string
		traffic []v1.TrafficTarget
		want    []Target
		wantErr *TargetError
	}{{
		name:    "a Configuration resolves to its latest ready Revision",
		traffic: []v1.TrafficTarget{byConfiguration("hello", 100, "")},
		want:    []Target{{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Percent: 100}},
	}, {
		name:    "a named Revision, with a tag",
		traffic: []v1.TrafficTarget{byRevision("hello-00001", 100, "old")},
		want:    []Target{{RevisionName: "hello-00001", Tag: "old", Percent: 100}},
	}, {
		name:    "a target without percent has 0",
		traffic: []v1.TrafficTarget{byConfiguration("hello", 100, ""), {RevisionName: "hello-00001", Tag: "old"}},
		want: []Target{
			{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Percent: 100},
			{RevisionName: "hello-00001", Tag: "old"},
		},
	}, {
		name:    "missing Configuration",
		traffic: []v1.TrafficTarget{byConfiguration("gone", 100, "")},
		wantErr: &TargetError{Kind: KindConfiguration, Name: "gone", Reason: Missing},
	}, {
		name:    "Configuration without a ready Revision yet",
		traffic: []v1.TrafficTarget{byConfiguration("new", 100, "")},
		wantErr: &TargetError{Kind: KindConfiguration, Name: "new", Reason: NotReady},
	}, {
		name:    "Configuration whose only Revision failed",
		traffic: []v1.TrafficTarget{byConfiguration("broken", 100, "")},
		wantErr: &TargetError{Kind: KindConfiguration, Name: "broken", Reason: Failed},
	}, {
		name:    "Configuration naming a Revision not in the lister yet",
		traffic: []v1.TrafficTarget{byConfiguration("stale", 100, "")},
		wantErr: &TargetError{Kind: KindConfiguration, Name: "stale", Reason: NotReady},
	}, {
		name:    "missing Revision",
		traffic: []v1.TrafficTarget{byRevision("hello-00009", 100, "")},
		wantErr: &TargetError{Kind: KindRevision, Name: "hello-00009", Reason: Missing},
	}, {
		name:    "Revision coming up",
		traffic: []v1.TrafficTarget{byRevision("pending", 100, "")},
		wantErr: &TargetError{Kind: KindRevision, Name: "pending", Reason: NotReady},
	}, {
		name:    "failed Revision",
		traffic: []v1.TrafficTarget{byRevision("crashed", 100, "")},
		wantErr: &TargetError{Kind: KindRevision, Name: "crashed", Reason: Failed},
	}, {
		name: "a failure is reported before an earlier target that is only coming up",
		traffic: []v1.TrafficTarget{
			byRevision("pending", 50, ""), byConfiguration("hello", 0, "latest"), byRevision("crashed", 50, ""), byRevision("gone", 0, "x"),
		},
		want:    []Target{{RevisionName: "hello-00002", ConfigurationName: "hello", LatestRevision: true, Tag: "latest"}},
		wantErr: &TargetError{Kind: KindRevision, Name: "crashed", Reason: Failed},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.traffic, configs, revs)
			var gotErr *TargetError
			if err != nil && !errors.As(err, &gotErr) {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("target error (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("targets (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestTargetErrorMarksTheRoute(t *testing.T) {
	tests := []struct {
		err        *TargetError
		wantStatus string
		wantReason string
	}{
		{&TargetError{Kind: KindConfiguration, Name: "c", Reason: Missing}, "False", "ConfigurationMissing"},
		{&TargetError{Kind: KindRevision, Name: "r", Reason: Missing}, "False", "RevisionMissing"},
		{&TargetError{Kind: KindConfiguration, Name: "c", Reason: NotReady}, "Unknown", "RevisionMissing"},
		{&TargetError{Kind: KindConfiguration, Name: "c", Reason: Failed}, "False", "RevisionMissing"},
		{&TargetError{Kind: KindRevision, Name: "r", Reason: NotReady}, "Unknown", "RevisionMissing"},
		{&TargetError{Kind: KindRevision, Name: "r", Reason: Failed}, "False", "RevisionMissing"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			var rs v1.RouteStatus
			rs.InitializeConditions()
			tt.err.MarkBadTrafficTarget(&rs)
			c := rs.GetCondition(v1.RouteConditionAllTrafficAssigned)
			if string(c.Status) != tt.wantStatus || c.Reason != tt.wantReason {
				t.Errorf("AllTrafficAssigned = %s/%s, want %s/%s", c.Status, c.Reason, tt.wantStatus, tt.wantReason)
			}
			if got, want := tt.err.Failed(), tt.wantStatus == "False"; got != want {
				t.Errorf("Failed() = %t, want %t", got, want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	got := Merge([]Target{
		{RevisionName: "a", Percent: 30},
		{RevisionName: "b", ConfigurationName: "c", LatestRevision: true, Percent: 20},
		{RevisionName: "a", Percent: 20},
		{RevisionName: "a", Tag: "pinned", Percent: 10},
		{RevisionName: "b", Percent: 20},
	})
	want := []Target{
		{RevisionName: "a", Percent: 50},
		{RevisionName: "b", ConfigurationName: "c", LatestRevision: true, Percent: 20},
		{RevisionName: "a", Tag: "pinned", Percent: 10},
		{RevisionName: "b", Percent: 20},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, RevisionNames(got)); diff != "" {
		t.Errorf("RevisionNames (-want, +got):\n%s", diff)
	}
}
