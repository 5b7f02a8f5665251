package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"

	"flywheel.dev/pkg/apis/serving"
)

// Condition types of a PodAutoscaler.
const (
	// PodAutoscalerConditionReady is True when the Revision is scaled as
	// asked and reachable.
	PodAutoscalerConditionReady = apis.ConditionReady
	// PodAutoscalerConditionActive is True while the Revision has pods
	// serving, False once it has scaled to zero.
	PodAutoscalerConditionActive apis.ConditionType = "Active"
	// PodAutoscalerConditionScaleTargetInitialized is True once the
	// Deployment first reached its initial scale.
	PodAutoscalerConditionScaleTargetInitialized apis.ConditionType = "ScaleTargetInitialized"
	// PodAutoscalerConditionEndpointsReady is True when the public
	// Service's endpoints point where the autoscaler wants them: at the
	// activator or at the pods.
	PodAutoscalerConditionEndpointsReady apis.ConditionType = "EndpointsReady"
	// PodAutoscalerConditionActivatorInPath is True while the autoscaler
	// wants the Revision's requests to go through the activator, False
	// while they may go straight to the pods; its reason says why. The
	// serverless-service reconciler switches the endpoints by it. It
	// does not affect Ready: either way the Revision serves.
	PodAutoscalerConditionActivatorInPath apis.ConditionType = "ActivatorInPath"
)

var podAutoscalerCondSet = apis.NewLivingConditionSet(
	PodAutoscalerConditionActive,
	PodAutoscalerConditionScaleTargetInitialized,
	PodAutoscalerConditionEndpointsReady,
)

// GetConditionSet implements duckv1.KRShaped.
func (*PodAutoscaler) GetConditionSet() apis.ConditionSet { return podAutoscalerCondSet }

// Class returns the autoscaler class, the built-in one when unset.
func (pa *PodAutoscaler) Class() string {
	if c, ok := serving.ClassAnnotation.Get(pa.Annotations); ok && c != "" {
		return c
	}
	return serving.KPAClass
}

// Metric returns the metric the autoscaler scales on: concurrency unless the
// annotation says otherwise (or the class implies cpu).
func (pa *PodAutoscaler) Metric() string {
	if m, ok := serving.MetricAnnotation.Get(pa.Annotations); ok && m != "" {
		return m
	}
	if pa.Class() == serving.HPAClass {
		return serving.MetricCPU
	}
	return serving.MetricConcurrency
}

// IsReady reports whether the status reflects the latest spec and says
// Ready.
func (pa *PodAutoscaler) IsReady() bool {
	return pa.Generation == pa.Status.ObservedGeneration &&
		pa.Status.GetCondition(PodAutoscalerConditionReady).IsTrue()
}

// InitializeConditions sets every condition to Unknown.
func (pas *PodAutoscalerStatus) InitializeConditions() {
	podAutoscalerCondSet.Manage(pas).InitializeConditions()
}

// GetCondition returns the condition of type t, or nil.
func (pas *PodAutoscalerStatus) GetCondition(t apis.ConditionType) *apis.Condition {
	return podAutoscalerCondSet.Manage(pas).GetCondition(t)
}

// IsActive reports whether the Revision has pods serving.
func (pas *PodAutoscalerStatus) IsActive() bool {
	return pas.GetCondition(PodAutoscalerConditionActive).IsTrue()
}

// IsActivating reports whether the Revision is on its way up from zero.
func (pas *PodAutoscalerStatus) IsActivating() bool {
	return pas.GetCondition(PodAutoscalerConditionActive).IsUnknown()
}

// IsInactive reports whether the Revision has scaled to zero.
func (pas *PodAutoscalerStatus) IsInactive() bool {
	return pas.GetCondition(PodAutoscalerConditionActive).IsFalse()
}

// MarkActive says the Revision has pods serving.
func (pas *PodAutoscalerStatus) MarkActive() {
	podAutoscalerCondSet.Manage(pas).MarkTrue(PodAutoscalerConditionActive)
}

// MarkActivating says the Revision is scaling up from zero.
func (pas *PodAutoscalerStatus) MarkActivating(reason, message string) {
	podAutoscalerCondSet.Manage(pas).MarkUnknown(PodAutoscalerConditionActive, reason, "%s", message)
}

// MarkInactive says the Revision has scaled to zero.
func (pas *PodAutoscalerStatus) MarkInactive(reason, message string) {
	podAutoscalerCondSet.Manage(pas).MarkFalse(PodAutoscalerConditionActive, reason, "%s", message)
}

// MarkScaleTargetInitialized says the Deployment reached its initial scale
// once.
func (pas *PodAutoscalerStatus) MarkScaleTargetInitialized() {
	podAutoscalerCondSet.Manage(pas).MarkTrue(PodAutoscalerConditionScaleTargetInitialized)
}

// MarkScaleTargetNotInitialized says the Deployment has not yet reached
// its initial scale.
func (pas *PodAutoscalerStatus) MarkScaleTargetNotInitialized(reason, message string) {
	podAutoscalerCondSet.Manage(pas).MarkUnknown(PodAutoscalerConditionScaleTargetInitialized, reason, "%s", message)
}

// MarkEndpointsReady says the public Service points where it should.
func (pas *PodAutoscalerStatus) MarkEndpointsReady() {
	podAutoscalerCondSet.Manage(pas).MarkTrue(PodAutoscalerConditionEndpointsReady)
}

// MarkEndpointsNotReady says the public Service's endpoints are being
// switched.
func (pas *PodAutoscalerStatus) MarkEndpointsNotReady(reason, message string) {
	podAutoscalerCondSet.Manage(pas).MarkUnknown(PodAutoscalerConditionEndpointsReady, reason, "%s", message)
}

// MarkActivatorInPath says requests should go through the activator, and
// why.
func (pas *PodAutoscalerStatus) MarkActivatorInPath(reason, message string) {
	podAutoscalerCondSet.Manage(pas).SetCondition(apis.Condition{
		Type:     PodAutoscalerConditionActivatorInPath,
		Status:   corev1.ConditionTrue,
		Severity: apis.ConditionSeverityInfo,
		Reason:   reason,
		Message:  message,
	})
}

// MarkActivatorOutOfPath says requests may go straight to the pods, and
// why.
func (pas *PodAutoscalerStatus) MarkActivatorOutOfPath(reason, message string) {
	podAutoscalerCondSet.Manage(pas).MarkFalse(PodAutoscalerConditionActivatorInPath, reason, "%s", message)
}

// WantsActivator reports whether the autoscaler wants the activator in
// the request path. False until it said so.
func (pas *PodAutoscalerStatus) WantsActivator() bool {
	return pas.GetCondition(PodAutoscalerConditionActivatorInPath).IsTrue()
}
