package podscale

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
	"flywheel.dev/pkg/autoscaler/scaling"
)

func TestMarkActivatorPath(t *testing.T) {
	// Pods carry 10 requests each, and 15 should be spare.
	spec := scaling.Spec{TotalPerPod: 10, TargetBurstCapacity: 15}
	always := spec
	always.TargetBurstCapacity = -1
	for _, tc := range []struct {
		name          string
		spec          scaling.Spec
		ready         int32
		decision      *scaling.Decision
		burstCapacity bool
		want          corev1.ConditionStatus
		wantReason    string
	}{{
		name: "no ready pod: the activator holds requests", spec: spec, ready: 0,
		decision: &scaling.Decision{DesiredPods: 1}, burstCapacity: true,
		want: corev1.ConditionTrue, wantReason: ReasonNoReadyPods,
	}, {
		name: "scaling to zero: in front of the last pod", spec: spec, ready: 1,
		decision: &scaling.Decision{DesiredPods: 1, ScalingToZero: true, ExcessBurstCapacity: 100}, burstCapacity: true,
		want: corev1.ConditionTrue, wantReason: ReasonScalingToZero,
	}, {
		name: "target burst capacity -1: always", spec: always, ready: 5,
		decision: &scaling.Decision{DesiredPods: 5, ExcessBurstCapacity: -1}, burstCapacity: true,
		want: corev1.ConditionTrue, wantReason: ReasonAlwaysInPath,
	}, {
		name: "spare capacity below the target burst capacity", spec: spec, ready: 2,
		decision: &scaling.Decision{DesiredPods: 2, ExcessBurstCapacity: -3}, burstCapacity: true,
		want: corev1.ConditionTrue, wantReason: ReasonBelowBurstCapacity,
	}, {
		name: "spare capacity covered again, but short within the stable window", spec: spec, ready: 3,
		decision: &scaling.Decision{DesiredPods: 3, ExcessBurstCapacity: 4, BelowBurstCapacity: true}, burstCapacity: true,
		want: corev1.ConditionTrue, wantReason: ReasonBelowBurstCapacity,
	}, {
		name: "enough spare capacity: straight to the pods", spec: spec, ready: 3,
		decision: &scaling.Decision{DesiredPods: 3, ExcessBurstCapacity: 0}, burstCapacity: true,
		want: corev1.ConditionFalse, wantReason: ReasonEnoughCapacity,
	}, {
		name: "before a decision one ready pod is measured against no load: short of 15 spare",
		spec: spec, ready: 1, burstCapacity: true,
		want: corev1.ConditionTrue, wantReason: ReasonBelowBurstCapacity,
	}, {
		name: "before a decision two ready pods have 20 spare",
		spec: spec, ready: 2, burstCapacity: true,
		want: corev1.ConditionFalse, wantReason: ReasonEnoughCapacity,
	}, {
		name: "without burst capacity (the HPA class) short capacity keeps the pods in front", spec: spec, ready: 1,
		decision: &scaling.Decision{DesiredPods: 4, ExcessBurstCapacity: -30}, burstCapacity: false,
		want: corev1.ConditionFalse, wantReason: ReasonEnoughCapacity,
	}, {
		name: "without burst capacity -1 still holds", spec: always, ready: 1,
		decision: &scaling.Decision{DesiredPods: 1, ExcessBurstCapacity: -1}, burstCapacity: false,
		want: corev1.ConditionTrue, wantReason: ReasonAlwaysInPath,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pa := &autoscalingv1alpha1.PodAutoscaler{}
			pa.Status.InitializeConditions()
			var d scaling.Decision
			if tc.decision != nil {
				d = *tc.decision
			}
			MarkActivatorPath(pa, tc.spec, tc.ready, d, tc.decision != nil, tc.burstCapacity)
			c := pa.Status.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionActivatorInPath)
			if c == nil {
				t.Fatal("no ActivatorInPath condition")
			}
			if c.Status != tc.want || c.Reason != tc.wantReason {
				t.Errorf("ActivatorInPath = %s (%s), want %s (%s)", c.Status, c.Reason, tc.want, tc.wantReason)
			}
			if c.Message == "" {
				t.Error("ActivatorInPath has no message")
			}
			if got := pa.Status.WantsActivator(); got != (tc.want == corev1.ConditionTrue) {
				t.Errorf("WantsActivator = %t", got)
			}
			// The condition is informational: it never makes the
			// PodAutoscaler unready.
			if r := pa.Status.GetCondition(autoscalingv1alpha1.PodAutoscalerConditionReady); r.IsFalse() {
				t.Errorf("Ready = False after marking the activator path: %+v", r)
			}
		})
	}
}
