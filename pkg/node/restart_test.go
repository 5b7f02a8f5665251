package node

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestPodsOfAnEarlierRunAreMarkedNotReadyWhenTheNodeStarts(t *testing.T) {
	started := metav1.NewTime(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	now := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	ready := func(name, node string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec:       corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{
				Phase: phase,
				Conditions: []corev1.PodCondition{
					{Type: corev1.PodReady, Status: corev1.ConditionTrue},
					{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
					{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				},
				ContainerStatuses: []corev1.ContainerStatus{{
					Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
				}},
			},
		}
	}
	done := ready("done", "n1", corev1.PodSucceeded)
	done.Status.Conditions[0].Status = corev1.ConditionFalse
	kube := fake.NewClientset(ready("web", "n1", corev1.PodRunning), ready("elsewhere", "n2", corev1.PodRunning), done)

	if err := markPodsRestarted(t.Context(), kube, "n1", clocktesting.NewFakePassiveClock(now)); err != nil {
		t.Fatal(err)
	}
	get := func(name string) *corev1.Pod {
		p, err := kube.CoreV1().Pods("default").Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	web := get("web")
	for _, c := range web.Status.Conditions {
		switch c.Type {
		case corev1.PodReady, corev1.ContainersReady:
			if c.Status != corev1.ConditionFalse || c.Reason != ReasonNodeRestarted || !c.LastTransitionTime.Time.Equal(now) {
				t.Errorf("web's %s condition: %+v, want False, %s, at %v", c.Type, c, ReasonNodeRestarted, now)
			}
		case corev1.PodScheduled:
			if c.Status != corev1.ConditionTrue {
				t.Errorf("web's PodScheduled changed: %+v", c)
			}
		}
	}
	cs := web.Status.ContainerStatuses[0]
	if cs.Ready || cs.State.Waiting == nil || cs.State.Waiting.Reason != ReasonNodeRestarted {
		t.Errorf("web's container status: %+v, want not ready and waiting", cs)
	}
	if last := cs.LastTerminationState.Terminated; last == nil || !last.StartedAt.Equal(&started) || !last.FinishedAt.Time.Equal(now) {
		t.Errorf("web's container's last state: %+v, want what ran, ended now", cs.LastTerminationState)
	}
	if web.Status.Phase != corev1.PodRunning {
		t.Errorf("web's phase changed to %s", web.Status.Phase)
	}

	// Another node's pods and a finished pod keep their status.
	if p := get("elsewhere"); !p.Status.ContainerStatuses[0].Ready {
		t.Error("a pod of another node was marked")
	}
	if p := get("done"); p.Status.ContainerStatuses[0].State.Running == nil {
		t.Error("a finished pod's record of how it ended was rewritten")
	}
}
