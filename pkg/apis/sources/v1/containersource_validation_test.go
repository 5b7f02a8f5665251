package v1

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// validContainerSource returns a valid, defaulted ContainerSource for rows
// to change.
func validContainerSource() *ContainerSource {
	sink := brokerSink()
	sink.Ref.Namespace = "shop"
	return &ContainerSource{
		ObjectMeta: metav1.ObjectMeta{Name: "beats", Namespace: "shop"},
		Spec: ContainerSourceSpec{
			SourceSpec: duckv1.SourceSpec{Sink: sink},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "beats-0", Image: "ko://flywheel.dev/examples/heartbeats", Args: []string{"--period=1s"}},
			}}},
		},
	}
}

func TestContainerSourceValidation(t *testing.T) {
	containers := func(cs *ContainerSource) *[]corev1.Container { return &cs.Spec.Template.Spec.Containers }
	tests := []struct {
		name   string
		change func(*ContainerSource)
		want   []string
	}{{
		name:   "valid",
		change: func(*ContainerSource) {},
	}, {
		name: "two containers",
		change: func(cs *ContainerSource) {
			*containers(cs) = append(*containers(cs), corev1.Container{Name: "sidecar", Image: "ghcr.io/example/sidecar"})
		},
	}, {
		name:   "no containers",
		change: func(cs *ContainerSource) { *containers(cs) = nil },
		want: []string{"at least one container is required: spec.template.spec.containers",
			"add a container with the image that produces the events"},
	}, {
		name:   "a container without image",
		change: func(cs *ContainerSource) { (*containers(cs))[0].Image = "" },
		want:   []string{"missing field(s): spec.template.spec.containers[0].image", "set the image that produces the events"},
	}, {
		name:   "a container name that is not a DNS label",
		change: func(cs *ContainerSource) { (*containers(cs))[0].Name = "Beats_0" },
		want: []string{`invalid value "Beats_0"`, "spec.template.spec.containers[0].name",
			"use lower-case letters, digits and '-', or remove the name to have one given"},
	}, {
		name: "two containers of one name",
		change: func(cs *ContainerSource) {
			*containers(cs) = append(*containers(cs), corev1.Container{Name: "beats-0", Image: "ghcr.io/example/sidecar"})
		},
		want: []string{`container name "beats-0" is also the name of containers[0]: spec.template.spec.containers[1].name`,
			"give each container its own name"},
	}, {
		name:   "no sink",
		change: func(cs *ContainerSource) { cs.Spec.Sink = duckv1.Destination{} },
		want:   []string{"a sink is required: spec.sink"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := validContainerSource()
			tc.change(cs)
			checkErr(t, fieldErr(cs.Validate(context.Background())), tc.want...)
		})
	}
}
