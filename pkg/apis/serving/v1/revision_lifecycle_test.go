package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	autoscalingv1alpha1 "flywheel.dev/pkg/apis/autoscaling/v1alpha1"
)

func TestPropagateAutoscalerStatusCopiesTheActivatorPath(t *testing.T) {
	var rs RevisionStatus
	rs.InitializeConditions()
	rs.MarkResourcesAvailableTrue()
	rs.MarkContainerHealthyTrue()

	var pa autoscalingv1alpha1.PodAutoscalerStatus
	pa.InitializeConditions()
	pa.MarkActive()
	pa.MarkActivatorInPath("BelowBurstCapacity", "short of the target burst capacity")
	rs.PropagateAutoscalerStatus(&pa)

	c := rs.GetCondition(RevisionConditionActivatorInPath)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "BelowBurstCapacity" || c.Message != "short of the target burst capacity" {
		t.Fatalf("ActivatorInPath = %+v, want True (BelowBurstCapacity) with the PodAutoscaler's message", c)
	}
	if !rs.GetCondition(RevisionConditionReady).IsTrue() {
		t.Errorf("Ready = %+v, want True: the activator in the path does not make a Revision unready", rs.GetCondition(RevisionConditionReady))
	}

	pa.MarkActivatorOutOfPath("EnoughCapacity", "spare capacity")
	rs.PropagateAutoscalerStatus(&pa)
	if c := rs.GetCondition(RevisionConditionActivatorInPath); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "EnoughCapacity" {
		t.Errorf("ActivatorInPath = %+v, want False (EnoughCapacity)", c)
	}
	if !rs.GetCondition(RevisionConditionReady).IsTrue() {
		t.Errorf("Ready = %+v, want True", rs.GetCondition(RevisionConditionReady))
	}
}
