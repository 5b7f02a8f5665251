package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"
)

func TestSinkBindingDefaults(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "bind", Namespace: "shop"}
	binding := func(subjectNS, sinkNS string) *SinkBinding {
		sink := brokerSink()
		sink.Ref.Namespace = sinkNS
		return &SinkBinding{ObjectMeta: meta, Spec: SinkBindingSpec{
			SourceSpec:  duckv1.SourceSpec{Sink: sink},
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: subjectNS, Name: "app"}},
		}}
	}
	tests := []struct {
		name string
		in   *SinkBinding
		want *SinkBinding
	}{{
		name: "subject and sink get the binding's namespace",
		in:   binding("", ""),
		want: binding("shop", "shop"),
	}, {
		name: "namespaces the user gave are kept, for validation to judge",
		in:   binding("other", "events"),
		want: binding("other", "events"),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			got.SetDefaults(context.Background())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SetDefaults (-want, +got):\n%s", diff)
			}
		})
	}
}
