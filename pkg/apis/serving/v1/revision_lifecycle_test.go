package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"

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

func TestMarkResourceFailedFailsReady(t *testing.T) {
	tests := []struct {
		name       string
		mark       func(*RevisionStatus)
		wantReason string
		wantMsg    string
	}{{
		name: "create refused",
		mark: func(rs *RevisionStatus) {
			rs.MarkResourceCreateFailed("Deployment", "hello-00001-deployment", "quota exceeded")
		},
		wantReason: ReasonCreateFailed,
		wantMsg:    `Failed to create Deployment "hello-00001-deployment": quota exceeded`,
	}, {
		name:       "update refused",
		mark:       func(rs *RevisionStatus) { rs.MarkResourceUpdateFailed("Service", "hello-00001", "denied by policy") },
		wantReason: ReasonUpdateFailed,
		wantMsg:    `Failed to update Service "hello-00001": denied by policy`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rs RevisionStatus
			rs.InitializeConditions()
			tc.mark(&rs)
			for _, ct := range []apis.ConditionType{RevisionConditionResourcesAvailable, RevisionConditionReady} {
				c := rs.GetCondition(ct)
				if c == nil || c.Status != corev1.ConditionFalse || c.Reason != tc.wantReason || c.Message != tc.wantMsg {
					t.Errorf("%s = %+v, want False (%s) %q", ct, c, tc.wantReason, tc.wantMsg)
				}
			}
		})
	}
}
