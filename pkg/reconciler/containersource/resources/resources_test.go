package resources

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	sourcesv1 "flywheel.dev/pkg/apis/sources/v1"
)

func source(change func(*sourcesv1.ContainerSource)) *sourcesv1.ContainerSource {
	src := &sourcesv1.ContainerSource{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "heartbeat", UID: "8b0e4f3c-2a51-4c8e-9d0b-6f1e2a3b4c5d",
			Labels: map[string]string{"team": "shop", "tier": "gold"},
		},
		Spec: sourcesv1.ContainerSourceSpec{
			SourceSpec: duckv1.SourceSpec{
				Sink:                duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "default"}},
				CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"team": "shop"}},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "silver", SourceLabel: "mine"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Image: "ko://example.com/heartbeat",
					Env:   []corev1.EnvVar{{Name: "POD_NAME", Value: "heartbeat"}},
				}}},
			},
		},
	}
	if change != nil {
		change(src)
	}
	src.SetDefaults(context.Background())
	return src
}

func TestMakeDeployment(t *testing.T) {
	d, err := MakeDeployment(source(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "heartbeat-deployment" || d.Namespace != "shop" {
		t.Errorf("Deployment %s/%s, want shop/heartbeat-deployment", d.Namespace, d.Name)
	}
	if !metav1.IsControlledBy(d, source(nil)) {
		t.Errorf("the Deployment's owners %+v do not name the source as its controller", d.OwnerReferences)
	}
	wantLabels := map[string]string{"team": "shop", "tier": "gold", SourceLabel: "heartbeat"}
	if diff := cmp.Diff(wantLabels, d.Labels); diff != "" {
		t.Errorf("Deployment labels (-want, +got):\n%s", diff)
	}
	// The template's own labels over the source's; the selector's over both.
	wantPodLabels := map[string]string{"team": "shop", "tier": "silver", SourceLabel: "heartbeat"}
	if diff := cmp.Diff(wantPodLabels, d.Spec.Template.Labels); diff != "" {
		t.Errorf("pod labels (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(&metav1.LabelSelector{MatchLabels: map[string]string{SourceLabel: "heartbeat"}}, d.Spec.Selector); diff != "" {
		t.Errorf("selector (-want, +got):\n%s", diff)
	}
	if diff := cmp.Diff(source(nil).Spec.Template.Spec, d.Spec.Template.Spec); diff != "" {
		t.Errorf("pod spec (-want, +got):\n%s", diff)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("replicas = %d, want unset (one, unless someone scales the Deployment)", *d.Spec.Replicas)
	}
}

// TestSpecHash checks that the hash moves with what the source asks of
// the Deployment, a field taken away included, and only with it.
func TestSpecHash(t *testing.T) {
	hashOf := func(change func(*sourcesv1.ContainerSource)) string {
		d, err := MakeDeployment(source(change))
		if err != nil {
			t.Fatal(err)
		}
		return d.Annotations[SpecHashAnnotation]
	}
	base := hashOf(nil)
	if base == "" {
		t.Fatal("no spec hash")
	}
	if again := hashOf(nil); again != base {
		t.Errorf("the hash of the same source changed: %s, then %s", base, again)
	}
	changes := map[string]func(*sourcesv1.ContainerSource){
		"a variable removed":  func(src *sourcesv1.ContainerSource) { src.Spec.Template.Spec.Containers[0].Env = nil },
		"an argument added":   func(src *sourcesv1.ContainerSource) { src.Spec.Template.Spec.Containers[0].Args = []string{"-v"} },
		"a source label gone": func(src *sourcesv1.ContainerSource) { delete(src.Labels, "team") },
	}
	for name, change := range changes {
		if got := hashOf(change); got == base {
			t.Errorf("%s: the hash did not change", name)
		}
	}
	sinkMoved := hashOf(func(src *sourcesv1.ContainerSource) { src.Spec.Sink.Ref.Name = "other" })
	if sinkMoved != base {
		t.Error("a new sink changed the Deployment's hash: the SinkBinding, not the Deployment, carries the sink")
	}
}

func TestMakeSinkBinding(t *testing.T) {
	src := source(nil)
	sb := MakeSinkBinding(src)
	if sb.Name != "heartbeat-sinkbinding" || sb.Namespace != "shop" {
		t.Errorf("SinkBinding %s/%s, want shop/heartbeat-sinkbinding", sb.Namespace, sb.Name)
	}
	if !metav1.IsControlledBy(sb, src) {
		t.Errorf("the SinkBinding's owners %+v do not name the source as its controller", sb.OwnerReferences)
	}
	want := sourcesv1.SinkBindingSpec{
		SourceSpec: src.Spec.SourceSpec,
		BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
			APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "heartbeat-deployment",
		}},
	}
	if diff := cmp.Diff(want, sb.Spec); diff != "" {
		t.Errorf("SinkBinding spec (-want, +got):\n%s", diff)
	}
	// As the webhook would judge it when the reconciler creates it.
	if err := sb.Validate(context.Background()); err != nil {
		t.Errorf("the SinkBinding is invalid: %v", err)
	}
}
