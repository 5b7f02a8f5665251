package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestApiServerSourceDefaults(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "changes", Namespace: "shop"}
	resources := []APIVersionKindSelector{{APIVersion: "v1", Kind: "ConfigMap"}}
	defaultedSink := brokerSink()
	defaultedSink.Ref.Namespace = "shop"
	tests := []struct {
		name string
		in   ApiServerSourceSpec
		want ApiServerSourceSpec
	}{{
		name: "Reference mode, the default account, the sink in the source's namespace",
		in:   ApiServerSourceSpec{Resources: resources, SourceSpec: duckv1.SourceSpec{Sink: brokerSink()}},
		want: ApiServerSourceSpec{
			Resources:          resources,
			Mode:               EventModeReference,
			ServiceAccountName: "default",
			SourceSpec:         duckv1.SourceSpec{Sink: defaultedSink},
		},
	}, {
		name: "what the user chose is kept",
		in: ApiServerSourceSpec{
			Resources: resources, Mode: EventModeResource, ServiceAccountName: "watcher",
			SourceSpec: duckv1.SourceSpec{Sink: defaultedSink},
		},
		want: ApiServerSourceSpec{
			Resources: resources, Mode: EventModeResource, ServiceAccountName: "watcher",
			SourceSpec: duckv1.SourceSpec{Sink: defaultedSink},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := &ApiServerSource{ObjectMeta: meta, Spec: *tc.in.DeepCopy()}
			got.SetDefaults(context.Background())
			if diff := cmp.Diff(&ApiServerSource{ObjectMeta: meta, Spec: tc.want}, got); diff != "" {
				t.Errorf("SetDefaults (-want, +got):\n%s", diff)
			}
		})
	}
}
