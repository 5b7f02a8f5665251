package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestPingSourceDefaults(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "tick", Namespace: "shop"}
	withSink := func(schedule string, sink duckv1.Destination) PingSource {
		return PingSource{ObjectMeta: meta, Spec: PingSourceSpec{Schedule: schedule, SourceSpec: duckv1.SourceSpec{Sink: sink}}}
	}
	inNamespace := func(ns string) duckv1.Destination {
		d := brokerSink()
		d.Ref.Namespace = ns
		return d
	}
	tests := []struct {
		name string
		in   PingSource
		want PingSource
	}{{
		name: "no schedule: every minute; the sink's ref gets the source's namespace",
		in:   withSink("", brokerSink()),
		want: withSink("* * * * *", inNamespace("shop")),
	}, {
		name: "a schedule and a sink namespace the user chose are kept",
		in:   withSink("0 9 * * 1-5", inNamespace("events")),
		want: withSink("0 9 * * 1-5", inNamespace("events")),
	}, {
		name: "a sink by URI is left alone",
		in:   withSink("@hourly", duckv1.Destination{URI: apis.HTTP("example.com")}),
		want: withSink("@hourly", duckv1.Destination{URI: apis.HTTP("example.com")}),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			got.SetDefaults(context.Background())
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("SetDefaults (-want, +got):\n%s", diff)
			}
		})
	}
}
