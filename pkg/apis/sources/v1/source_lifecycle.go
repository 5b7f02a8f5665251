package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// ConditionSinkProvided is True when a source's sink resolved to a URL. It
// is the condition type every Knative source with a sink reports.
const ConditionSinkProvided apis.ConditionType = "SinkProvided"

// Reasons the sources give on their conditions.
const (
	// ReasonSinkEmpty says the sink resolved, but to no URL.
	ReasonSinkEmpty = "SinkEmpty"
	// ReasonSinkNotResolved says the sink has not been resolved yet.
	ReasonSinkNotResolved = "SinkNotResolved"
	// ReasonDeploymentUnavailable says the Deployment has not reported yet
	// whether it is available.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
)

// markSink records the resolved sink in the status and condition t; nil
// means it resolved to nothing.
func markSink(m apis.ConditionManager, t apis.ConditionType, s *duckv1.SourceStatus, uri *apis.URL) {
	s.SinkURI = uri
	if uri == nil {
		m.MarkFalse(t, ReasonSinkEmpty, "The sink resolved to no URL: check that the object it names has an address.")
		return
	}
	m.MarkTrue(t)
}

// markNoSink says the sink does not resolve, and forgets the URL it
// resolved to before, so that no one sends to a sink the user moved.
func markNoSink(m apis.ConditionManager, t apis.ConditionType, s *duckv1.SourceStatus, reason, format string, args ...any) {
	s.SinkURI = nil
	m.MarkFalse(t, reason, format, args...)
}

// propagateDeploymentAvailability turns the Deployment's Available
// condition into condition t.
func propagateDeploymentAvailability(m apis.ConditionManager, t apis.ConditionType, d *appsv1.Deployment) {
	for _, c := range d.Status.Conditions {
		if c.Type != appsv1.DeploymentAvailable {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			m.MarkTrue(t)
		case corev1.ConditionFalse:
			m.MarkFalse(t, c.Reason, "%s", c.Message)
		default:
			m.MarkUnknown(t, c.Reason, "%s", c.Message)
		}
		return
	}
	m.MarkUnknown(t, ReasonDeploymentUnavailable, "The Deployment %q has not reported whether it is available yet.", d.Name)
}
