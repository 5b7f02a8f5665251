package node

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBackOff(t *testing.T) {
	b := newBackOff(10*time.Second, 40*time.Second)
	var got []time.Duration
	for range 5 {
		got = append(got, b.delay(time.Second))
	}
	// A run longer than twice the cap starts over.
	got = append(got, b.delay(81*time.Second), b.delay(0))
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second, 0, 10 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want, +got):\n%s", diff)
	}

	b = newBackOff(time.Second, 3*time.Second)
	got = nil
	for range 4 {
		got = append(got, b.failed())
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}, got); diff != "" {
		t.Errorf("failure delays (-want, +got):\n%s", diff)
	}
}

func TestPodPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}}
	restarting := corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}
	succeeded := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	failed := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}}
	for _, tc := range []struct {
		name        string
		policy      corev1.RestartPolicy
		initialized bool
		initFailed  bool
		statuses    []corev1.ContainerStatus
		want        corev1.PodPhase
	}{
		{"initialising", corev1.RestartPolicyAlways, false, false, []corev1.ContainerStatus{waiting}, corev1.PodPending},
		{"an init container failed for good", corev1.RestartPolicyNever, false, true, []corev1.ContainerStatus{waiting}, corev1.PodFailed},
		{"one not yet started", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{running, waiting}, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{running, running}, corev1.PodRunning},
		{"in back-off", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{restarting}, corev1.PodRunning},
		{"one done, one running", corev1.RestartPolicyNever, true, false, []corev1.ContainerStatus{succeeded, running}, corev1.PodRunning},
		{"all succeeded", corev1.RestartPolicyNever, true, false, []corev1.ContainerStatus{succeeded, succeeded}, corev1.PodSucceeded},
		{"one failed, never restarted", corev1.RestartPolicyNever, true, false, []corev1.ContainerStatus{succeeded, failed}, corev1.PodFailed},
		{"all succeeded on failure", corev1.RestartPolicyOnFailure, true, false, []corev1.ContainerStatus{succeeded}, corev1.PodSucceeded},
		{"restarting on failure", corev1.RestartPolicyOnFailure, true, false, []corev1.ContainerStatus{succeeded, restarting}, corev1.PodRunning},
		{"stopped, always restarted", corev1.RestartPolicyAlways, true, false, []corev1.ContainerStatus{succeeded}, corev1.PodRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := podPhase(tc.policy, tc.initialized, tc.initFailed, tc.statuses); got != tc.want {
				t.Errorf("podPhase() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPodConditions(t *testing.T) {
	earlier := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
		{Type: "example.com/gate", Status: corev1.ConditionFalse, LastTransitionTime: earlier},
	}
	statuses := []corev1.ContainerStatus{{Ready: true}, {Ready: false}}
	got := podConditions(now, old, true, true, statuses, corev1.PodRunning)
	want := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(now)},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(now)},
		old[0],
		old[2],
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conditions (-want, +got):\n%s", diff)
	}

	got = podConditions(now, nil, true, true, []corev1.ContainerStatus{{Ready: true}}, corev1.PodRunning)
	byType := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range got {
		byType[c.Type] = c.Status
	}
	wantByType := map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodReadyToStartContainers: corev1.ConditionTrue,
		corev1.PodInitialized:            corev1.ConditionTrue,
		corev1.ContainersReady:           corev1.ConditionTrue,
		corev1.PodReady:                  corev1.ConditionTrue,
		corev1.PodScheduled:              corev1.ConditionTrue,
	}
	if diff := cmp.Diff(wantByType, byType); diff != "" {
		t.Errorf("conditions of a ready pod no scheduler placed (-want, +got):\n%s", diff)
	}
}
