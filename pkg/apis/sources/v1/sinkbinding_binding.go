package v1

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis/duck"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/tracker"

	"flywheel.dev/pkg/sources"
)

// A SinkBinding is a knative.dev/pkg psbinding.Bindable: the binding
// webhook applies Do to a subject's pod template when the subject is
// written, the SinkBinding reconciler applies Do to the subjects that
// exist, and Undo to them when the binding goes. (The test holds it to the
// interface: importing psbinding here would link its webhook and clients
// into everything that imports these types.)

// GetSubject implements psbinding.Bindable.
func (sb *SinkBinding) GetSubject() tracker.Reference {
	return sb.Spec.Subject
}

// GetBindingStatus implements psbinding.Bindable.
func (sb *SinkBinding) GetBindingStatus() duck.BindableStatus {
	return bindableStatus{&sb.Status}
}

// bindableStatus is a SinkBindingStatus as psbinding sees it: psbinding
// reports a failure with a plain message where MarkBindingUnavailable
// takes a format, and sets the observed generation itself.
type bindableStatus struct{ *SinkBindingStatus }

func (s bindableStatus) MarkBindingUnavailable(reason, message string) {
	s.SinkBindingStatus.MarkBindingUnavailable(reason, "%s", message)
}

func (s bindableStatus) SetObservedGeneration(generation int64) {
	s.ObservedGeneration = generation
}

// Do gives every container and init container of the subject's pod
// template K_SINK, the sink's URL from the status, and K_CE_OVERRIDES,
// the overrides as JSON (removed when there are none). Init containers
// are bound too: one may announce, with an event, that its pod starts.
//
// A variable already there is set in place, so that a template that
// already carries the binding is left exactly as it is (any change to a
// Deployment's template rolls its pods out) and two bindings of one
// subject do not reorder each other's variables forever.
//
// Until the sink resolves (status.sinkUri empty) Do changes nothing: a
// subject keeps the sink it was given before rather than lose K_SINK over
// a sink that is briefly missing, and the reconciler binds it once the
// sink resolves.
func (sb *SinkBinding) Do(ctx context.Context, ps *duckv1.WithPod) {
	if sb.Status.SinkURI == nil {
		return
	}
	sink := sb.Status.SinkURI.String()
	overrides, err := sources.EncodeOverrides(sb.Spec.CloudEventOverrides)
	if err != nil {
		// Overrides are a map of strings, which always encodes.
		logging.FromContext(ctx).Errorw("Encoding the CloudEvents overrides", "binding", sb.Namespace+"/"+sb.Name, "error", err)
		return
	}
	eachContainer(ps, func(c *corev1.Container) {
		c.Env = setEnv(c.Env, sources.SinkEnv, sink)
		if overrides == "" {
			c.Env = removeEnv(c.Env, sources.CEOverridesEnv)
		} else {
			c.Env = setEnv(c.Env, sources.CEOverridesEnv, overrides)
		}
	})
}

// Undo removes K_SINK and K_CE_OVERRIDES from every container and init
// container of the subject's pod template.
func (sb *SinkBinding) Undo(_ context.Context, ps *duckv1.WithPod) {
	eachContainer(ps, func(c *corev1.Container) {
		c.Env = removeEnv(removeEnv(c.Env, sources.SinkEnv), sources.CEOverridesEnv)
	})
}

func eachContainer(ps *duckv1.WithPod, f func(*corev1.Container)) {
	spec := &ps.Spec.Template.Spec
	for i := range spec.InitContainers {
		f(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		f(&spec.Containers[i])
	}
}

// setEnv returns env with name set to value: in place of the first
// variable of that name (a value taken from elsewhere, valueFrom, gives
// way), without any other of that name, or appended when there is none.
func setEnv(env []corev1.EnvVar, name, value string) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env)+1)
	set := false
	for _, e := range env {
		switch {
		case e.Name != name:
			out = append(out, e)
		case !set:
			out = append(out, corev1.EnvVar{Name: name, Value: value})
			set = true
		}
	}
	if !set {
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	return out
}

// removeEnv returns env without the variables called name; nil when none
// is left, as a container without variables is written.
func removeEnv(env []corev1.EnvVar, name string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range env {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}
