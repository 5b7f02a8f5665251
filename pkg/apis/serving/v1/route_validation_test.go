package v1

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

func TestRouteValidation(t *testing.T) {
	tests := []struct {
		name      string
		routeName string
		traffic   []TrafficTarget
		want      string
	}{{
		name:    "all to a configuration",
		traffic: []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](100)}},
	}, {
		name: "split with a tag-only target",
		traffic: []TrafficTarget{
			{RevisionName: "hello-00001", Percent: ptr.To[int64](40), Tag: "old"},
			{ConfigurationName: "hello", Percent: ptr.To[int64](60)},
			{RevisionName: "hello-00002", Tag: "next"},
		},
	}, {
		name: "no traffic",
		want: "spec.traffic",
	}, {
		name:    "percents add up to 90",
		traffic: []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](90)}},
		want:    "add up to 90",
	}, {
		name:    "percent above 100",
		traffic: []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](101)}},
		want:    "spec.traffic[0].percent",
	}, {
		name: "tag used twice",
		traffic: []TrafficTarget{
			{ConfigurationName: "hello", Percent: ptr.To[int64](100), Tag: "a"},
			{RevisionName: "hello-00001", Tag: "a"},
		},
		want: "spec.traffic[1].tag",
	}, {
		name:    "tag not a DNS label",
		traffic: []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](100), Tag: "Not_OK"}},
		want:    "spec.traffic[0].tag",
	}, {
		name:      "tag too long with the route name",
		routeName: strings.Repeat("r", 40),
		traffic:   []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](100), Tag: strings.Repeat("t", 30)}},
		want:      "spec.traffic[0].tag",
	}, {
		name:    "both revision and configuration",
		traffic: []TrafficTarget{{ConfigurationName: "hello", RevisionName: "hello-00001", Percent: ptr.To[int64](100)}},
		want:    "expected exactly one, got both: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
	}, {
		name:    "neither revision nor configuration",
		traffic: []TrafficTarget{{Percent: ptr.To[int64](100)}},
		want:    "expected exactly one, got neither: spec.traffic[0].configurationName, spec.traffic[0].revisionName",
	}, {
		name:    "latestRevision with a revision name",
		traffic: []TrafficTarget{{RevisionName: "hello-00001", LatestRevision: ptr.To(true), Percent: ptr.To[int64](100)}},
		want:    "spec.traffic[0].latestRevision",
	}, {
		name:    "latestRevision false without a revision name",
		traffic: []TrafficTarget{{ConfigurationName: "hello", LatestRevision: ptr.To(false), Percent: ptr.To[int64](100)}},
		want:    "spec.traffic[0].revisionName",
	}, {
		name:    "revision name not a DNS-1035 label",
		traffic: []TrafficTarget{{RevisionName: "Hello", Percent: ptr.To[int64](100)}},
		want:    "spec.traffic[0].revisionName",
	}, {
		name:    "url in spec",
		traffic: []TrafficTarget{{ConfigurationName: "hello", Percent: ptr.To[int64](100), URL: apis.HTTP("x.example")}},
		want:    "spec.traffic[0].url",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.routeName
			if name == "" {
				name = "hello"
			}
			r := &Route{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: RouteSpec{Traffic: tc.traffic}}
			r.SetDefaults(context.Background())
			checkErr(t, r.Validate(context.Background()), tc.want)
		})
	}
}

func TestTrafficTargetDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   TrafficTarget
		want bool
	}{
		{name: "no revision follows the latest", in: TrafficTarget{ConfigurationName: "c"}, want: true},
		{name: "a named revision is pinned", in: TrafficTarget{RevisionName: "c-00001"}, want: false},
		{name: "an explicit choice is kept", in: TrafficTarget{ConfigurationName: "c", LatestRevision: ptr.To(false)}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.SetDefaults(context.Background())
			if got := *tc.in.LatestRevision; got != tc.want {
				t.Errorf("latestRevision = %v, want %v", got, tc.want)
			}
		})
	}
}
