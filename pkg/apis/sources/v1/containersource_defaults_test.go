package v1

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestContainerSourceDefaults(t *testing.T) {
	source := func(name string, sink duckv1.Destination, containers ...string) *ContainerSource {
		cs := &ContainerSource{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Spec:       ContainerSourceSpec{SourceSpec: duckv1.SourceSpec{Sink: sink}},
		}
		for _, c := range containers {
			cs.Spec.Template.Spec.Containers = append(cs.Spec.Template.Spec.Containers, corev1.Container{Name: c, Image: "ko://flywheel.dev/examples/heartbeats"})
		}
		return cs
	}
	defaultedSink := brokerSink()
	defaultedSink.Ref.Namespace = "shop"
	long := strings.Repeat("a", 62)
	tests := []struct {
		name string
		in   *ContainerSource
		want *ContainerSource
	}{{
		name: "unnamed containers are named after the source; the sink gets its namespace",
		in:   source("beats", brokerSink(), "", "sidecar", ""),
		want: source("beats", defaultedSink, "beats-0", "sidecar", "beats-2"),
	}, {
		name: "a source name that would make an invalid container name",
		in:   source("beats.v2", defaultedSink, ""),
		want: source("beats.v2", defaultedSink, "container-0"),
	}, {
		name: "a source name too long for a container name",
		in:   source(long, defaultedSink, ""),
		want: source(long, defaultedSink, "container-0"),
	}, {
		name: "a source whose name is still to be generated",
		in:   source("", defaultedSink, ""),
		want: source("", defaultedSink, "container-0"),
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
