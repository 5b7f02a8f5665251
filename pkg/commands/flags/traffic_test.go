package flags

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

func TestEditTraffic(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []servingv1.TrafficTarget
		edit TrafficEdit
		want []servingv1.TrafficTarget
	}{{
		name: "an empty block is all to the latest revision",
		edit: TrafficEdit{Tag: []string{"@latest=current"}},
		want: []servingv1.TrafficTarget{tagged("current", latest(100))},
	}, {
		name: "tag an untagged target in place",
		in:   []servingv1.TrafficTarget{revision("hello-00001", 90), latest(10)},
		edit: TrafficEdit{Tag: []string{"hello-00001=stable"}},
		want: []servingv1.TrafficTarget{tagged("stable", revision("hello-00001", 90)), latest(10)},
	}, {
		name: "tag a revision with no target: a new one with no traffic",
		in:   []servingv1.TrafficTarget{latest(100)},
		edit: TrafficEdit{Tag: []string{"hello-00001=old"}},
		want: []servingv1.TrafficTarget{latest(100), tagged("old", revision("hello-00001", 0))},
	}, {
		name: "tagging again the same way changes nothing",
		in:   []servingv1.TrafficTarget{tagged("current", latest(100))},
		edit: TrafficEdit{Tag: []string{"@latest=current"}},
		want: []servingv1.TrafficTarget{tagged("current", latest(100))},
	}, {
		name: "untag a target with traffic keeps the target",
		in:   []servingv1.TrafficTarget{tagged("current", latest(100))},
		edit: TrafficEdit{Untag: []string{"current"}},
		want: []servingv1.TrafficTarget{latest(100)},
	}, {
		name: "untag a target without traffic drops it",
		in:   []servingv1.TrafficTarget{latest(100), tagged("old", revision("hello-00001", 0))},
		edit: TrafficEdit{Untag: []string{"old"}},
		want: []servingv1.TrafficTarget{latest(100)},
	}, {
		name: "split by tag, revision and @latest; unnamed targets lose their traffic and untagged ones go",
		in:   []servingv1.TrafficTarget{tagged("stable", revision("hello-00001", 50)), revision("hello-00002", 50), latest(0)},
		edit: TrafficEdit{Split: []string{"stable=70", "@latest=20", "hello-00003=10"}},
		want: []servingv1.TrafficTarget{tagged("stable", revision("hello-00001", 70)), latest(20), revision("hello-00003", 10)},
	}, {
		name: "a tagged target keeps its URL at 0%",
		in:   []servingv1.TrafficTarget{tagged("candidate", latest(10)), revision("hello-00001", 90)},
		edit: TrafficEdit{Split: []string{"hello-00001=100"}},
		want: []servingv1.TrafficTarget{tagged("candidate", latest(0)), revision("hello-00001", 100)},
	}, {
		name: "tag, then split by the new tags, in one go",
		in:   []servingv1.TrafficTarget{revision("hello-00001", 100)},
		edit: TrafficEdit{Tag: []string{"hello-00001=stable", "@latest=candidate"}, Split: []string{"stable=90", "candidate=10"}},
		want: []servingv1.TrafficTarget{tagged("stable", revision("hello-00001", 90)), tagged("candidate", latest(10))},
	}, {
		name: "untag, then all back to the latest",
		in:   []servingv1.TrafficTarget{tagged("stable", revision("hello-00001", 90)), tagged("candidate", latest(10))},
		edit: TrafficEdit{Untag: []string{"stable", "candidate"}, Split: []string{"@latest=100"}},
		want: []servingv1.TrafficTarget{latest(100)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got, err := EditTraffic(in, tc.edit)
			if err != nil {
				t.Fatalf("EditTraffic = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EditTraffic (-want, +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.in, in); diff != "" {
				t.Errorf("EditTraffic changed its input (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestEditTrafficRefusesBadInput(t *testing.T) {
	base := []servingv1.TrafficTarget{tagged("stable", revision("hello-00001", 100))}
	for _, tc := range []struct {
		name string
		edit TrafficEdit
		want []string
	}{
		{"sum below 100", TrafficEdit{Split: []string{"stable=50", "@latest=40"}}, []string{"--traffic stable=50,@latest=40", "add up to 90, not 100", "e.g. --traffic @latest=100"}},
		{"sum above 100", TrafficEdit{Split: []string{"stable=60", "@latest=60"}}, []string{"add up to 120, not 100"}},
		{"percent not a number", TrafficEdit{Split: []string{"stable=half"}}, []string{`--traffic "stable=half"`, "PERCENT from 0 to 100"}},
		{"percent above 100", TrafficEdit{Split: []string{"stable=150"}}, []string{"PERCENT from 0 to 100"}},
		{"no =", TrafficEdit{Split: []string{"stable"}}, []string{`--traffic "stable"`, "REF=PERCENT"}},
		{"a target twice", TrafficEdit{Split: []string{"stable=50", "stable=50"}}, []string{"--traffic: stable is given more than once"}},
		{"tag without =", TrafficEdit{Tag: []string{"current"}}, []string{`--tag "current"`, "REVISION=TAG", "@latest=TAG"}},
		{"tag taken by another target", TrafficEdit{Tag: []string{"@latest=stable"}}, []string{"--tag @latest=stable", "already names hello-00001", "--untag stable"}},
		{"untag an unknown tag", TrafficEdit{Untag: []string{"nope"}}, []string{"--untag nope", "no traffic target has this tag", "the tags are stable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EditTraffic(base, tc.edit)
			if err == nil {
				t.Fatal("EditTraffic = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("EditTraffic = %q, want it to say %q", err, w)
				}
			}
		})
	}
}
