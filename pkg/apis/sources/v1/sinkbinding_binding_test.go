package v1

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/webhook/psbinding"

	"flywheel.dev/pkg/sources"
)

// SinkBinding is what psbinding binds with; the assertion lives here so
// that the API package does not link psbinding.
var _ psbinding.Bindable = (*SinkBinding)(nil)

// boundBinding is a SinkBinding whose sink resolved to sinkURL, with the
// given overrides (none when empty).
func boundBinding(overrides map[string]string) *SinkBinding {
	sb := validSinkBinding()
	if len(overrides) > 0 {
		sb.Spec.CloudEventOverrides = &duckv1.CloudEventOverrides{Extensions: overrides}
	}
	sb.Status.InitializeConditions()
	sb.Status.MarkSink(sinkURL)
	return sb
}

// podOf is a subject whose pod template has these init containers and
// containers.
func podOf(initContainers, containers []corev1.Container) *duckv1.WithPod {
	return &duckv1.WithPod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop"},
		Spec: duckv1.WithPodSpec{Template: duckv1.PodSpecable{Spec: corev1.PodSpec{
			InitContainers: initContainers,
			Containers:     containers,
		}}},
	}
}

func container(name string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: "ko://example.com/" + name, Env: env}
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

var (
	sinkEnv      = env(sources.SinkEnv, sinkURL.String())
	staleSinkEnv = env(sources.SinkEnv, "http://old-sink.shop.svc.cluster.local")
	teamOverride = env(sources.CEOverridesEnv, `{"extensions":{"team":"shop"}}`)
)

func TestSinkBindingDo(t *testing.T) {
	fromSecret := corev1.EnvVar{Name: sources.SinkEnv, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sink"}, Key: "url"},
	}}
	tests := []struct {
		name    string
		binding *SinkBinding
		subject *duckv1.WithPod
		want    *duckv1.WithPod
	}{{
		name:    "every container and init container gets K_SINK, after its own variables",
		binding: boundBinding(nil),
		subject: podOf(
			[]corev1.Container{container("announce")},
			[]corev1.Container{container("app", env("LOG", "debug")), container("sidecar")}),
		want: podOf(
			[]corev1.Container{container("announce", sinkEnv)},
			[]corev1.Container{container("app", env("LOG", "debug"), sinkEnv), container("sidecar", sinkEnv)}),
	}, {
		name:    "overrides go in K_CE_OVERRIDES as JSON",
		binding: boundBinding(map[string]string{"team": "shop"}),
		subject: podOf(nil, []corev1.Container{container("app")}),
		want:    podOf(nil, []corev1.Container{container("app", sinkEnv, teamOverride)}),
	}, {
		name:    "a K_SINK already there is replaced where it stands, the order of the others kept",
		binding: boundBinding(nil),
		subject: podOf(nil, []corev1.Container{container("app", env("A", "1"), staleSinkEnv, env("B", "2"))}),
		want:    podOf(nil, []corev1.Container{container("app", env("A", "1"), sinkEnv, env("B", "2"))}),
	}, {
		name:    "a K_SINK taken from a Secret gives way to the binding's",
		binding: boundBinding(nil),
		subject: podOf(nil, []corev1.Container{container("app", fromSecret)}),
		want:    podOf(nil, []corev1.Container{container("app", sinkEnv)}),
	}, {
		name:    "a K_SINK given twice is left once",
		binding: boundBinding(nil),
		subject: podOf(nil, []corev1.Container{container("app", staleSinkEnv, env("A", "1"), staleSinkEnv)}),
		want:    podOf(nil, []corev1.Container{container("app", sinkEnv, env("A", "1"))}),
	}, {
		name:    "overrides the binding no longer has are removed",
		binding: boundBinding(nil),
		subject: podOf(nil, []corev1.Container{container("app", sinkEnv, teamOverride, env("A", "1"))}),
		want:    podOf(nil, []corev1.Container{container("app", sinkEnv, env("A", "1"))}),
	}, {
		name:    "overrides replaced in place",
		binding: boundBinding(map[string]string{"team": "shop"}),
		subject: podOf(nil, []corev1.Container{container("app", env(sources.CEOverridesEnv, `{"extensions":{"team":"old"}}`), sinkEnv)}),
		want:    podOf(nil, []corev1.Container{container("app", teamOverride, sinkEnv)}),
	}, {
		name:    "a subject already bound is left exactly as it is",
		binding: boundBinding(map[string]string{"team": "shop"}),
		subject: podOf(nil, []corev1.Container{container("app", teamOverride, env("A", "1"), sinkEnv)}),
		want:    podOf(nil, []corev1.Container{container("app", teamOverride, env("A", "1"), sinkEnv)}),
	}, {
		name: "the sink not resolved: the subject keeps what it has",
		binding: func() *SinkBinding {
			sb := boundBinding(nil)
			sb.Status.MarkNoSink("NotFound", "Broker %q not found", "default")
			return sb
		}(),
		subject: podOf(nil, []corev1.Container{container("app", staleSinkEnv)}),
		want:    podOf(nil, []corev1.Container{container("app", staleSinkEnv)}),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.subject.DeepCopy()
			tc.binding.Do(context.Background(), got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Do (-want, +got):\n%s", diff)
			}
		})
	}
}

func TestSinkBindingUndo(t *testing.T) {
	tests := []struct {
		name    string
		subject *duckv1.WithPod
		want    *duckv1.WithPod
	}{{
		name: "K_SINK and K_CE_OVERRIDES go from every container and init container, the other variables stay",
		subject: podOf(
			[]corev1.Container{container("announce", sinkEnv)},
			[]corev1.Container{container("app", env("A", "1"), sinkEnv, teamOverride, env("B", "2")), container("sidecar", sinkEnv)}),
		want: podOf(
			[]corev1.Container{container("announce")},
			[]corev1.Container{container("app", env("A", "1"), env("B", "2")), container("sidecar")}),
	}, {
		name:    "a subject never bound is left as it is",
		subject: podOf(nil, []corev1.Container{container("app", env("A", "1"))}),
		want:    podOf(nil, []corev1.Container{container("app", env("A", "1"))}),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.subject.DeepCopy()
			boundBinding(map[string]string{"team": "shop"}).Undo(context.Background(), got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Undo (-want, +got):\n%s", diff)
			}
		})
	}
}

// TestSinkBindingDoThenUndo checks that binding and unbinding a subject
// gives back its pod template as it was.
func TestSinkBindingDoThenUndo(t *testing.T) {
	subject := podOf([]corev1.Container{container("announce")}, []corev1.Container{container("app", env("A", "1"))})
	got := subject.DeepCopy()
	sb := boundBinding(map[string]string{"team": "shop"})
	sb.Do(context.Background(), got)
	sb.Undo(context.Background(), got)
	if diff := cmp.Diff(subject, got); diff != "" {
		t.Errorf("Do then Undo (-want, +got):\n%s", diff)
	}
}

// TestSinkBindingBindingStatus checks the status as psbinding drives it:
// its messages are taken as they are, not as formats.
func TestSinkBindingBindingStatus(t *testing.T) {
	sb := boundBinding(nil)
	status := sb.GetBindingStatus()
	status.MarkBindingUnavailable("BindingFailed", `failed binding subject app: 100% "busy"`)
	checkCondition(t, sb.Status.GetCondition(SinkBindingConditionReady), apis.Condition{
		Type: SinkBindingConditionReady, Status: corev1.ConditionFalse,
		Reason: "BindingFailed", Message: `failed binding subject app: 100% "busy"`,
	})
	status.MarkBindingAvailable()
	checkCondition(t, sb.Status.GetCondition(SinkBindingConditionReady), apis.Condition{
		Type: SinkBindingConditionReady, Status: corev1.ConditionTrue,
	})
	status.SetObservedGeneration(3)
	if sb.Status.ObservedGeneration != 3 {
		t.Errorf("ObservedGeneration = %d, want 3", sb.Status.ObservedGeneration)
	}
	if diff := cmp.Diff(sb.Spec.Subject, sb.GetSubject()); diff != "" {
		t.Errorf("GetSubject (-want, +got):\n%s", diff)
	}
}
